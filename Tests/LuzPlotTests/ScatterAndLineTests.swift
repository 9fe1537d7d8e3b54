import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import LuzPlot

@Suite("Scatter plots, lines and axes")
struct ScatterAndLineTests {
    @Test("A classed scatter draws one circle per point, coloured by class, with a legend of names")
    func classedScatter() throws {
        let plot = Plot(title: "classes")
            .scatter(x: [1, 2, 3, 4, 5], y: [5.0, 4, 3, 2, 1], classes: [0, 1, 2, 1, 0], classNames: ["A", "B", "C"])
        let svg = try ParsedSVG(Figure(plot).svgString())
        #expect(try svg.count("point") == 5)
        #expect(try svg.attribute("fill", ofClass: "point")
            == ["#E69F00", "#56B4E9", "#009E73", "#56B4E9", "#E69F00"])
        #expect(try svg.texts(withClass: "legend-label") == ["A", "B", "C"])
        // x grows to the right; y grows upwards, so decreasing data y means increasing screen y.
        let cx = try svg.attribute("cx", ofClass: "point").map { Double($0)! }
        let cy = try svg.attribute("cy", ofClass: "point").map { Double($0)! }
        #expect(zip(cx, cx.dropFirst()).allSatisfy { $0 < $1 })
        #expect(zip(cy, cy.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test("Integer and Float inputs draw the same as Double inputs")
    func genericInputs() {
        let fromInts = Figure(Plot().scatter(x: [1, 2, 3], y: [Int32(4), 5, 6], classes: [UInt8(0), 1, 1]))
        let fromDoubles = Figure(Plot().scatter(x: [1.0, 2, 3], y: [4.0, 5, 6], classes: [0, 1, 1]))
        let fromFloats = Figure(Plot().scatter(x: [Float(1), 2, 3], y: [Float(4), 5, 6], classes: [0, 1, 1]))
        #expect(fromInts.svgString() == fromDoubles.svgString())
        #expect(fromFloats.svgString() == fromDoubles.svgString())
    }

    @Test("Points with NaN or infinite coordinates are skipped and do not reach the axes")
    func nonFinitePointsSkipped() throws {
        let plot = Plot().scatter(x: [1, Double.nan, 3, 4, 5], y: [1, 2, Double.infinity, 4, -Double.infinity])
        let output = Figure(plot).svgString()
        let svg = try ParsedSVG(output)
        #expect(try svg.count("point") == 2)
        let labels = try svg.texts(withClass: "tick-label")
        #expect(!labels.isEmpty)
        #expect(labels.allSatisfy { Double($0) != nil })
        #expect(!output.lowercased().contains("nan"))
        #expect(!output.contains("inf"))
    }

    @Test("A line is one polyline through its points, broken at NaN")
    func lines() throws {
        let whole = try ParsedSVG(Figure(Plot().line(x: Array(0..<10), y: (0..<10).map { Double($0 * $0) }, label: "squares")).svgString())
        #expect(try whole.count("line") == 1)
        let points = try whole.attribute("points", ofClass: "line")[0].split(separator: " ")
        #expect(points.count == 10)
        #expect(try whole.texts(withClass: "legend-label") == ["squares"])

        let broken = try ParsedSVG(Figure(Plot().line(x: [0, 1, 2, 3, 4], y: [0, 1, Double.nan, 3, 4])).svgString())
        #expect(try broken.attribute("points", ofClass: "line").map { $0.split(separator: " ").count } == [2, 2])

        let allMissing = try ParsedSVG(Figure(Plot().line(x: [0.0, 1], y: [Double.nan, .nan])).svgString())
        #expect(try allMissing.count("line") == 0)
    }

    @Test("Points and a fitted curve share one panel; unclassed series take successive palette colours")
    func pointsAndCurve() throws {
        let xs = (0..<20).map { Double($0) / 19 }
        let plot = Plot(title: "fit", xLabel: "x", yLabel: "y")
            .scatter(x: xs, y: xs.map { $0 * $0 + 0.1 }, label: "data")
            .line(x: xs, y: xs.map { $0 * $0 }, label: "fit", showsMarkers: true)
            .line(x: xs, y: xs, label: "identity", color: .black, dashed: true)
        let svg = try ParsedSVG(Figure(plot).svgString())
        #expect(try svg.count("point") == 40)  // 20 data points + 20 markers
        #expect(try svg.count("line") == 2)
        #expect(try svg.attribute("stroke", ofClass: "line") == ["#56B4E9", "#000000"])
        #expect(try svg.texts(withClass: "legend-label") == ["data", "fit", "identity"])
        #expect(try svg.texts(withClass: "axis-label") == ["x", "y"])
        #expect(try svg.elements(withClass: "line")[1].value(of: "stroke-dasharray") != nil)
    }

    @Test("Axes on 0...1 get ticks every 0.2 with grid lines")
    func unitAxes() throws {
        var plot = Plot()
        plot.xLimits = 0...1
        plot.yLimits = 0...1
        let svg = try ParsedSVG(Figure(plot, width: 640, height: 480).svgString())
        let expected = ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        #expect(try svg.texts(withClass: "tick-label") == expected + expected)
        #expect(try svg.count("grid") == 12)
    }

    @Test("Explicit ticks replace the automatic ones; those outside the limits are dropped")
    func explicitTicks() throws {
        var plot = Plot().scatter(x: [0.0, 10], y: [0.0, 10])
        plot.xLimits = 0...10
        plot.yLimits = 0...10
        plot.xTicks = [0, 2.5, 10, 11]
        plot.yTicks = [5]
        let svg = try ParsedSVG(Figure(plot).svgString())
        #expect(try svg.texts(withClass: "tick-label") == ["0.0", "2.5", "10.0", "5"])
    }

    @Test("Horizontal tick labels in a narrow panel do not overlap")
    func narrowPanelTicks() throws {
        let plot = Plot().scatter(x: [123_456.0, 987_654.0], y: [0.0, 1])
        let svg = try ParsedSVG(Figure(plot, width: 220, height: 200).svgString())
        let xLabels = try svg.elements(withClass: "tick-label").filter {
            $0.value(of: "text-anchor") == "middle"
        }
        #expect(xLabels.count >= 2)
        for (first, second) in zip(xLabels, xLabels.dropFirst()) {
            let gap = second.number("x") - first.number("x")
            let needed = (estimatedTextWidth(first.stringValue!, size: 10) + estimatedTextWidth(second.stringValue!, size: 10)) / 2
            #expect(gap > needed)
        }
    }

    @Test("Empty data draws empty axes without crashing")
    func emptyData() throws {
        let empty = try ParsedSVG(Figure(Plot(title: "nothing")).svgString())
        #expect(try empty.count("panel") == 1)
        #expect(try empty.count("point") == 0)
        #expect(try empty.texts(withClass: "tick-label").count >= 4)

        let emptySeries = Plot().scatter(x: [Double](), y: [Double]()).line(x: [Double](), y: [Double](), label: "none")
        #expect(try ParsedSVG(Figure(emptySeries).svgString()).count("line") == 0)

        let noPanels = try ParsedSVG(Figure(width: 100, height: 100, title: "blank").svgString())
        #expect(try noPanels.count("panel") == 0)
        #expect(try noPanels.texts(withClass: "figure-title") == ["blank"])

        // A single point and mismatched lengths.
        let single = try ParsedSVG(Figure(Plot().scatter(x: [3.0], y: [3.0, 4, 5])).svgString())
        #expect(try single.count("point") == 1)
    }

    @Test("A figure too small for its margins still gives valid SVG with no negative sizes")
    func tinyFigure() throws {
        var plot = Plot(title: "a long title", xLabel: "x", yLabel: "y")
            .scatter(x: [1.0, 2], y: [1.0, 2], classes: [0, 1], classNames: ["first class", "second class"])
        plot.legendTitle = "legend"
        let output = Figure(plot, width: 40, height: 30).svgString()
        let svg = try ParsedSVG(output)
        for element in try svg.elements(named: "rect") {
            #expect(element.number("width") >= 0)
            #expect(element.number("height") >= 0)
        }
        #expect(try svg.count("point") == 2)
    }
}
