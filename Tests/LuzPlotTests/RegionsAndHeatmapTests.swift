import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import LuzPlot

@Suite("Decision regions and heat maps")
struct RegionsAndHeatmapTests {
    @Test("Regions merge neighbouring cells of one class per row and skip negative classes")
    func regionRuns() throws {
        let classes = [
            [0, 0, 1, 1],   // two runs
            [0, 1, 1, 2],   // three runs
            [2, 2, -1, 2],  // two runs and a gap
        ]
        let plot = Plot().regions(x: [0.0, 1, 2, 3], y: [0.0, 1, 2], classes: classes)
        let svg = try ParsedSVG(Figure(plot).svgString())
        let regions = try svg.elements(withClass: "region")
        #expect(regions.count == 7)
        let lightOrange = Palette.okabeIto[0].blended(with: .white, fraction: 0.6).hex
        #expect(regions[0].value(of: "fill") == lightOrange)

        // The cells tile the grid's extent exactly: the axis limits are the outer cell edges.
        let background = try svg.elements(withClass: "background")[0]
        func value(_ element: XMLElement, _ name: String) -> Double { element.number(name) }
        #expect(abs(value(regions[0], "x") - value(background, "x")) < 0.011)
        let lastOfFirstRow = regions[1]
        #expect(abs(value(lastOfFirstRow, "x") + value(lastOfFirstRow, "width")
                    - value(background, "x") - value(background, "width")) < 0.011)
    }

    @Test("The flat row-major form draws the same regions as the nested form")
    func flatRegions() {
        let nested = Plot().regions(x: [0.0, 1, 2], y: [0.0, 1], classes: [[0, 1, 1], [2, 2, 0]])
        let flat = Plot().regions(x: [0.0, 1, 2], y: [0.0, 1], flatClasses: [0, 1, 1, 2, 2, 0])
        #expect(Figure(nested).svgString() == Figure(flat).svgString())
    }

    @Test("Regions under points: regions first in the document, points drawn on top")
    func regionsUnderPoints() throws {
        let plot = Plot()
            .regions(x: [0.0, 1], y: [0.0, 1], classes: [[0, 1], [1, 0]], classNames: ["a", "b"])
            .scatter(x: [0.2, 0.8], y: [0.2, 0.8], classes: [0, 0], classNames: ["a", "b"])
        let output = Figure(plot).svgString()
        let firstRegion = try #require(output.range(of: "class=\"region\""))
        let firstPoint = try #require(output.range(of: "class=\"point\""))
        #expect(firstRegion.lowerBound < firstPoint.lowerBound)
        // Class names come from the scatter layer only, without duplicates from the regions.
        #expect(try ParsedSVG(output).texts(withClass: "legend-label") == ["a", "b"])
    }

    @Test("A k×k heat map draws k² cells, min and max at the ends of the colour scale")
    func heatmapCells() throws {
        let k = 5
        let values = (0..<k).map { i in (0..<k).map { j in Double(i * k + j) } }
        let svg = try ParsedSVG(Figure(Plot().heatmap(values)).svgString())
        let fills = try svg.attribute("fill", ofClass: "cell")
        #expect(fills.count == k * k)
        #expect(fills.first == "#440154")
        #expect(fills.last == "#FDE725")
        #expect(try svg.elements(named: "linearGradient").count == 1)
        #expect(try svg.elements(named: "stop").count == Colormap.viridis.anchors.count)
    }

    @Test("A heat map's colour bar is its legend: hiding the legend hides it")
    func heatmapColorBarFollowsTheLegend() throws {
        var plot = Plot().heatmap([[0.0, 1], [2, 3]])
        #expect(try ParsedSVG(Figure(plot).svgString()).count("color-bar") == 1)
        plot.showsLegend = false
        let hidden = try ParsedSVG(Figure(plot).svgString())
        #expect(try hidden.count("color-bar") == 0)
        #expect(try hidden.count("cell") == 4)
    }

    @Test("NaN cells are grey and unlabelled; labels and values are written")
    func heatmapLabelsAndMissing() throws {
        let plot = Plot().heatmap([[1.0, 2], [3, .nan]], rowLabels: ["q1", "q2"], columnLabels: ["k1", "k2"],
                                  showsValues: true)
        let svg = try ParsedSVG(Figure(plot).svgString())
        #expect(try svg.attribute("fill", ofClass: "cell")[3] == Color.gray.hex)
        #expect(try svg.texts(withClass: "cell-value") == ["1.00", "2.00", "3.00"])
        let ticks = try svg.texts(withClass: "tick-label")
        #expect(["k1", "k2", "q1", "q2"].allSatisfy(ticks.contains))
        // Row 0 is at the top.
        let rowLabels = try svg.elements(withClass: "tick-label").filter { ["q1", "q2"].contains($0.stringValue!) }
        let y = rowLabels.map { $0.number("y") }
        #expect(y[0] < y[1])
    }

    @Test("The flat heat map form matches the matrix form; missing values become grey cells")
    func flatHeatmap() throws {
        let matrix = Plot().heatmap([[0.0, 1, 2], [3, 4, 5]])
        let flat = Plot().heatmap([0.0, 1, 2, 3, 4, 5], rows: 2, columns: 3)
        #expect(Figure(matrix).svgString() == Figure(flat).svgString())
        let short = try ParsedSVG(Figure(Plot().heatmap([0.0, 1, 2, 3], rows: 2, columns: 3)).svgString())
        #expect(try short.attribute("fill", ofClass: "cell").suffix(2) == [Color.gray.hex, Color.gray.hex])
    }

    @Test("Wide column labels are rotated; an empty heat map still renders")
    func rotatedLabelsAndEmpty() throws {
        let names = (0..<12).map { "token number \($0)" }
        let values = (0..<12).map { i in (0..<12).map { j in Double(i + j) } }
        let svg = try ParsedSVG(Figure(Plot().heatmap(values, rowLabels: names, columnLabels: names)).svgString())
        let rotated = try svg.elements(withClass: "tick-label").filter { $0.value(of: "transform") != nil }
        #expect(rotated.count == 12)

        let empty = try ParsedSVG(Figure(Plot().heatmap([[Double]]())).svgString())
        #expect(try empty.count("cell") == 0)
    }
}
