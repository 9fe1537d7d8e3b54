import Foundation
@testable import Luz
import Testing

@Suite("Hyper-parameters")
struct HyperparameterTests {
    private let setup = TrainingSetup(
        model: { hyperparameters in
            let hidden = try hyperparameters.integer("dhidden")
            return Sequential {
                Linear(2, hidden, generator: Generator(seed: 1)); ReLU()
                Linear(hidden, 2, generator: Generator(seed: 2))
            }
        },
        loss: CrossEntropyLoss())

    @Test func aModelFactoryReadsTypedValues() throws {
        let (x, y) = blobs(count: 32, seed: 1)
        let fitted = try setup.hyperparameters(["dhidden": 6]).fit(.tensors(x, y, batchSize: 16), epochs: 1, verbose: false)
        #expect(fitted.model.parameters().first?.shape == [6, 2])
    }

    /// A misspelt name stops the fit with the name and the known ones (it used to be a nil unwrapped).
    @Test func aMisspeltNameIsAnErrorListingTheKnownNames() throws {
        let (x, y) = blobs(count: 32, seed: 1)
        do {
            _ = try setup.hyperparameters(["dhiden": 6, "din": 2]).fit(.tensors(x, y, batchSize: 16), epochs: 1, verbose: false)
            Issue.record("the fit ran without its hyper-parameter")
        } catch {
            #expect("\(error)".contains("no hyper-parameter 'dhidden'; known: dhiden, din"), "\(error)")
        }
    }

    @Test func wholeNumbersAndFlagsAreChecked() throws {
        let values: Hyperparameters = ["size": 2.5, "on": 1, "off": 0, "odd": 2]
        #expect(throws: LuzError.self) { try values.integer("size") }
        #expect(try values.flag("on") && !(try values.flag("off")))
        #expect(throws: LuzError.self) { try values.flag("odd") }
        #expect(try values.value("size") == 2.5)
        #expect(throws: LuzError.self) { try Hyperparameters().value("x") }
    }
}
