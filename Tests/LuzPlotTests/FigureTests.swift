import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Luz
import Testing
@testable import LuzPlot

@Suite("Figures: small multiples, training curves, determinism, escaping, writing")
struct FigureTests {
    @Test("Small multiples: one panel per plot, sized from the panel size and columns")
    func grid() throws {
        let panels = (0..<5).map { index in
            Plot(title: "layer \(index)").scatter(x: [0.0, 1, 2], y: [Double(index), 1, 0], classes: [0, 1, 0])
        }
        let figure = Figure.grid(panels: panels, columns: 2, title: "Layers", panelWidth: 200, panelHeight: 150)
        let svg = try ParsedSVG(figure.svgString())
        #expect(svg.rootAttribute("width") == "400")
        #expect(svg.rootAttribute("height") == "480")  // 3 rows × 150 + 30 for the title
        #expect(try svg.count("panel") == 5)
        #expect(try svg.texts(withClass: "title") == (0..<5).map { "layer \($0)" })
        #expect(try svg.texts(withClass: "figure-title") == ["Layers"])
        #expect(try svg.count("point") == 15)
        // Every panel has its own clip path, so ids are unique.
        let ids = try svg.elements(named: "clipPath").map { $0.value(of: "id")! }
        #expect(Set(ids).count == 5)
    }

    @Test("Training curves: a panel per metric, a line per set, points in epoch order")
    func trainingCurves() throws {
        var records: [MetricRecord] = []
        for epoch in [3, 1, 2] {
            for set in ["train", "valid"] {
                records.append(MetricRecord(set: set, metric: "loss", epoch: epoch, value: 1 / Double(epoch)))
                records.append(MetricRecord(set: set, metric: "acc", epoch: epoch, value: 0.5 + 0.1 * Double(epoch)))
            }
        }
        let figure = Figure.trainingCurves(records)
        let svg = try ParsedSVG(figure.svgString())
        #expect(try svg.texts(withClass: "title") == ["loss", "acc"])
        #expect(try svg.count("line") == 4)
        #expect(try svg.count("point") == 12)
        #expect(try svg.texts(withClass: "legend-label") == ["train", "valid", "train", "valid"])
        #expect(try svg.attribute("stroke", ofClass: "line") == ["#E69F00", "#56B4E9", "#E69F00", "#56B4E9"])
        let firstLine = try svg.attribute("points", ofClass: "line")[0].split(separator: " ")
        let xs = firstLine.map { Double($0.split(separator: ",")[0])! }
        #expect(zip(xs, xs.dropFirst()).allSatisfy { $0 < $1 })
        // Epoch ticks are whole numbers only.
        let ticks = try svg.texts(withClass: "tick-label")
        #expect(["1", "2", "3"].allSatisfy(ticks.contains))
        #expect(!ticks.contains("1.5"))

        let tuples = records.map { (set: $0.set, metric: $0.metric, epoch: $0.epoch, value: $0.value) }
        #expect(Figure.trainingCurves(tuples).svgString() == figure.svgString())
    }

    @Test("Training curves without records draw one empty panel")
    func emptyTrainingCurves() throws {
        let svg = try ParsedSVG(Figure.trainingCurves([MetricRecord]()).svgString())
        #expect(try svg.count("panel") == 1)
        #expect(try svg.count("line") == 0)
    }

    @Test("The same input renders byte-identical SVG")
    func deterministic() {
        func make() -> Figure {
            let xs = (0..<50).map { Double($0) * 0.37 }
            let plot = Plot(title: "det").regions(x: [0.0, 5, 10], y: [0.0, 5], classes: [[0, 1, 2], [1, 1, 0]])
                .scatter(x: xs, y: xs.map { $0 * $0 }, classes: (0..<50).map { $0 % 3 })
                .line(x: xs, y: xs, label: "id")
            let heat = Plot().heatmap([[0.1, 0.9], [0.5, 0.5]], showsValues: true)
            return Figure.grid(panels: [plot, heat], columns: 2, title: "twice")
        }
        let first = make().svgString()
        #expect(first == make().svgString())
        let figure = make()
        #expect(figure.svgString() == figure.svgString())
        // No exponent notation in coordinates.
        #expect(first.range(of: "[0-9]e[-+]?[0-9]", options: .regularExpression) == nil)
    }

    @Test("XML special characters in every kind of text are escaped")
    func escaping() throws {
        let nasty = "a<b & \"c\" 'd' >"
        var plot = Plot(title: nasty, xLabel: "x & y", yLabel: "<y>")
            .scatter(x: [1.0], y: [1.0], classes: [0], classNames: ["</text>"])
        plot.legendTitle = "&amp;"
        let output = Figure(plot, width: 400, height: 300).svgString()
        #expect(output.contains("a&lt;b &amp; &quot;c&quot; &apos;d&apos; &gt;"))
        let svg = try ParsedSVG(output)
        #expect(try svg.texts(withClass: "title") == [nasty])
        #expect(try svg.texts(withClass: "axis-label") == ["x & y", "<y>"])
        #expect(try svg.texts(withClass: "legend-label") == ["</text>"])
        #expect(output.contains("&amp;amp;"))
    }

    @Test("Control characters that XML forbids are dropped")
    func controlCharacters() throws {
        #expect(escapeXML("a\u{0}b\u{1B}c\td") == "abc\td")
        let svg = try ParsedSVG(Figure(Plot(title: "bell\u{7}")).svgString())
        #expect(try svg.texts(withClass: "title") == ["bell"])
    }

    @Test("Writing is atomic: the file holds the SVG and no temporary file is left")
    func atomicWrite() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("luzplot-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("figure.svg").path

        try Figure(Plot(title: "first")).write(to: path)
        let figure = Figure(Plot(title: "second").scatter(x: [1, 2], y: [3, 4]))
        try figure.write(to: path)  // replaces the existing file

        #expect(try String(contentsOfFile: path, encoding: .utf8) == figure.svgString())
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["figure.svg"])
    }

    @Test("Writing into a missing directory throws an error naming the path")
    func writeIntoMissingDirectory() throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("luzplot-missing-\(UUID().uuidString)/figure.svg").path
        let error = try #require(throws: PlotError.self) {
            try Figure(Plot()).write(to: path)
        }
        #expect(error.description.contains(path))
        #expect(error.localizedDescription.contains(path))
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
