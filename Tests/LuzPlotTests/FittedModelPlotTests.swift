import Foundation
import Luz
import LuzPlot
import Testing

@Suite("Plotting a fitted model")
struct FittedModelPlotTests {
    @Test func curvesHaveAPanelPerMetricAndALinePerSet() throws {
        let x = Tensor.randn([64, 2], generator: Generator(seed: 1))
        let y = (x.sum(dim: 1) .> 0).to(.int64)
        let fitted = try Sequential { Linear(2, 4); ReLU(); Linear(4, 2) }
            .setup(loss: CrossEntropyLoss(), metrics: [Accuracy()])
            .fit(inputs: x, targets: y, epochs: 3, validData: 0.25, verbose: false)
        let svg = fitted.plot(title: "curves").svgString()
        #expect(svg.hasPrefix("<svg") || svg.hasPrefix("<?xml"))
        #expect(svg.contains(">loss<") && svg.contains(">acc<"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 4)   // 2 metrics × 2 sets
        #expect(fitted.plot(title: "curves").svgString() == svg)
    }

    @Test func learningRateFinderPlotMarksTheSuggestion() {
        let rates = (0..<20).map { pow(10, -6 + Double($0) * 0.3) }
        let losses = rates.map { 2 - log10($0) / 10 + ($0 > 1e-1 ? 5 : 0) }
        let found = LearningRateFinderResult(records: Array(zip(rates, losses)), smoothedLosses: losses,
                                             suggestedLearningRate: 1e-3)
        let svg = found.plot().svgString()
        #expect(svg.contains("suggested 1.0e-03"))
        #expect(svg.contains("learning rate (log10)"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 3)   // raw, smoothed, the mark
    }

    @Test func confusionMatrixPlotHasACellPerPair() {
        let matrix = ConfusionMatrix(prediction: Tensor([0, 1, 2, 1] as [Int64]), target: Tensor([0, 1, 1, 2] as [Int64]))
        let svg = matrix.plot(classNames: ["a", "b", "c"]).svgString()
        #expect(svg.contains(">predicted<") && svg.contains(">true<") && svg.contains(">c<"))
    }

    @Test func aSingleMetricFigureIsWideAndSeveralPanelsKeepTheirSize() throws {
        let x = Tensor.randn([32, 2], generator: Generator(seed: 1))
        let y = (x.sum(dim: 1) .> 0).to(.int64)
        let fitted = try Sequential { Linear(2, 2) }
            .setup(loss: CrossEntropyLoss())
            .fit(inputs: x, targets: y, epochs: 2, verbose: false)
        let single = fitted.plot().svgString()
        #expect(single.contains(#"width="640""#), "\(single.prefix(400))")
        #expect(!single.contains(#"width="340""#))
        let loss = (1...2).map { MetricRecord(set: "train", metric: "loss", epoch: $0, value: 1 / Double($0)) }
        let accuracy = (1...2).map { MetricRecord(set: "train", metric: "acc", epoch: $0, value: 0.5) }
        #expect(Figure.trainingCurves(loss).svgString().contains(#"width="640" height="400""#))
        #expect(Figure.trainingCurves(loss + accuracy).svgString().contains(#"width="680" height="250""#))
    }

    @Test func theLossAxisOfAOneMetricPlotHasAtLeastFourTicks() {
        let records = [0.7, 0.3, 0.1, 0.02].enumerated().map {
            MetricRecord(set: "train", metric: "loss", epoch: $0.offset + 1, value: $0.element)
        }
        for panelHeight in [nil, 250.0, 180.0] {
            let svg = Figure.trainingCurves(records, panelHeight: panelHeight).svgString()
            let labels = svg.components(separatedBy: #"class="tick-label""#).dropFirst().compactMap { part -> String? in
                guard let start = part.firstIndex(of: ">"), let end = part.firstIndex(of: "<") else { return nil }
                return String(part[part.index(after: start)..<end])
            }
            // The epoch ticks are whole numbers; the loss ticks have decimals.
            let lossTicks = labels.filter { $0.contains(".") }
            #expect(lossTicks.count >= 4, "height \(String(describing: panelHeight)): \(labels)")
        }
    }
}
