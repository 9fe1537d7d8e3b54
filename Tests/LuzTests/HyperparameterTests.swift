import Foundation
@testable import Luz
import Testing
import LuzTestSupport

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

    @Test func textsAndFlagsAreReadByType() throws {
        let values: Hyperparameters = ["activation": "tanh", "bias": true, "width": 8, "rate": 0.5]
        #expect(try values.text("activation") == "tanh")
        #expect(try values.flag("bias"))
        #expect(try values.integer("width") == 8 && values.value("width") == 8)
        #expect { try values.text("width") } throws: { "\($0)".contains("hyper-parameter 'width' is the whole number 8, not a text") }
        #expect { try values.value("activation") } throws: { "\($0)".contains("'activation' is the text \"tanh\", not a number") }
        #expect { try values.integer("rate") } throws: { "\($0)".contains("'rate' is the number 0.5, not a whole number") }
        #expect(values["activation"] == "tanh" && values["width"] == 8.0)
    }

    /// Saved as JSON (checkpoints, fitted models): each value reads back as what it was.
    @Test func valuesRoundTripThroughJSON() throws {
        let values: Hyperparameters = ["activation": "tanh", "bias": false, "width": 8, "rate": 0.1, "scale": 3.0]
        let decoded = try JSONDecoder().decode(Hyperparameters.self, from: JSONEncoder().encode(values))
        #expect(decoded == values)
        #expect(try decoded.text("activation") == "tanh" && !(try decoded.flag("bias")) && decoded.value("rate") == 0.1)
        // A file written when every value was a number still reads.
        let old = try JSONDecoder().decode(Hyperparameters.self, from: Data(#"{"values":{"din":4,"rate":0.01}}"#.utf8))
        #expect(try old.integer("din") == 4 && old.value("rate") == 0.01)
    }

    struct Shape: Codable, Equatable {
        var dhidden: Int
        var activation: String
        var bias: Bool
        var dropout: Double?
    }

    @Test func aModelsOwnStructDecodesAndCatchesMisspellings() throws {
        let shape = try Hyperparameters(["dhidden": 6, "activation": "tanh", "bias": true, "dropout": 1]).decode(Shape.self)
        #expect(shape == Shape(dhidden: 6, activation: "tanh", bias: true, dropout: 1))
        #expect(try Hyperparameters(encoding: shape).decode(Shape.self) == shape)
        #expect { try Hyperparameters(["activation": "tanh"]).decode(Shape.self) } throws: {
            "\($0)".contains("no hyper-parameter 'dhidden'; known: activation")
        }
        #expect { try Hyperparameters(["dhidden": 6, "activation": "tanh", "bias": 1]).decode(Shape.self) } throws: {
            "\($0)".contains("hyper-parameter 'bias' is the whole number 1; Shape needs Bool")
        }
        // A misspelt optional would go unnoticed; it is refused.
        #expect { try Hyperparameters(["dhidden": 6, "activation": "tanh", "bias": true, "dropuot": 0.5]).decode(Shape.self) } throws: {
            "\($0)".contains("Shape has no hyper-parameter 'dropuot'; it has activation, bias, dhidden, dropout")
        }
        #expect { try Hyperparameters(["dhidden": "six", "activation": "tanh", "bias": true]).decode(Shape.self) } throws: {
            "\($0)".contains("hyper-parameter 'dhidden' is the text \"six\"; Shape needs Int")
        }
        #expect(throws: LuzError.self) { try Hyperparameters(encoding: ["nested": ["a": 1]]) }
    }

    /// A struct's values reach the model factory, and come back with a saved fitted model.
    @Test func aFitTakesAStructAndSavesItsValues() throws {
        let scratch = try TemporaryFolder("luz-hyperparameters")
        defer { scratch.remove() }
        let typed = TrainingSetup(
            model: { hyperparameters in
                let shape = try hyperparameters.decode(Shape.self)
                return Sequential {
                    Linear(2, shape.dhidden, bias: shape.bias, generator: Generator(seed: 1))
                    if shape.activation == "tanh" { Tanh() } else { ReLU() }
                    Linear(shape.dhidden, 2, generator: Generator(seed: 2))
                }
            },
            loss: CrossEntropyLoss())
        let (x, y) = blobs(count: 32, seed: 1)
        let fitted = try typed.hyperparameters(encoding: Shape(dhidden: 5, activation: "tanh", bias: false))
            .fit(.tensors(x, y, batchSize: 16), epochs: 1, verbose: false)
        #expect(fitted.model.parameters().map(\.shape) == [[5, 2], [2, 5], [2]])
        let file = scratch.path + "/model.safetensors"
        try fitted.save(to: file)
        let loaded = try FittedModel.load(from: file, setup: typed)
        #expect(try loaded.setup.hyperparameters.decode(Shape.self) == Shape(dhidden: 5, activation: "tanh", bias: false))
        #expect(try loaded.predict(x).floats == fitted.predict(x).floats)
    }
}
