import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import LuzPlot

@Suite("Image grids")
struct ImageGridTests {
    @Test("Only non-background pixel runs become rectangles; captions carry their colours")
    func pixelsAndCaptions() throws {
        let images: [[Float]] = [
            [0, 0, 0, 0, 0, 0, 0, 0, 0],        // blank: background only
            [1, 1, 0, 0, 0, 0, 0, 0, 0.5],      // one run of two, one single pixel
            [1, 0, 1, 0, 0, 0, 0, 0, 0],        // two separate pixels
        ]
        let figure = Figure.imageGrid(images, width: 3, height: 3, captions: ["0", "1", "2"],
                                      captionColors: [.darkGray, .red, .darkGray], columns: 2)
        let svg = try ParsedSVG(figure.svgString())
        #expect(try svg.count("image-background") == 3)
        let fills = try svg.attribute("fill", ofClass: "pixel")
        #expect(fills == ["#FFFFFF", "#808080", "#FFFFFF", "#FFFFFF"])
        #expect(try svg.attribute("width", ofClass: "pixel")[0] == "4")  // two image pixels at scale 2
        #expect(try svg.texts(withClass: "title") == ["0", "1", "2"])
        #expect(try svg.attribute("fill", ofClass: "title") == ["#333333", "#D62728", "#333333"])
        #expect(try svg.count("tick-label") == 0)
        #expect(try svg.count("panel") == 3)
    }

    @Test("Byte images use 0...255 by default and match the equivalent Float images")
    func byteImages() {
        let bytes: [[UInt8]] = [[0, 255, 51, 0]]
        let floats: [[Float]] = [[0, 1, 0.2, 0]]
        #expect(Figure.imageGrid(bytes, width: 2, height: 2).svgString()
            == Figure.imageGrid(floats, width: 2, height: 2).svgString())
    }

    @Test("Tiles keep square pixels and the grid has the requested columns")
    func layout() throws {
        let images = [[Float]](repeating: [Float](repeating: 0.5, count: 28 * 28), count: 10)
        let figure = Figure.imageGrid(images, width: 28, height: 28, columns: 4, scale: 2)
        #expect(figure.columns == 4)
        let svg = try ParsedSVG(figure.svgString())
        let backgrounds = try svg.elements(withClass: "image-background")
        #expect(backgrounds.count == 10)
        let width = backgrounds[0].number("width")
        let height = backgrounds[0].number("height")
        #expect(abs(width - 56) < 0.01 && abs(height - 56) < 0.01)
        // A uniform grey image is one run per row.
        #expect(try svg.count("pixel") == 10 * 28)
    }

    @Test("NaN pixels and short pixel arrays are drawn as background; no images is an empty grid")
    func degenerateImages() throws {
        let svg = try ParsedSVG(Figure.imageGrid([[Float.nan, 1]], width: 2, height: 2).svgString())
        #expect(try svg.count("pixel") == 1)
        let empty = try ParsedSVG(Figure.imageGrid([[Float]](), width: 28, height: 28).svgString())
        #expect(try empty.count("panel") == 0)
    }
}
