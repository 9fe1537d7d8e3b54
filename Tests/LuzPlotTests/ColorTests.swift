import Testing
@testable import LuzPlot

@Suite("Colours, palettes and colormaps")
struct ColorTests {
    @Test("Hex strings round-trip and malformed ones are rejected")
    func hex() throws {
        let orange = try #require(Color(hex: "#E69F00"))
        #expect(orange.hex == "#E69F00")
        #expect(Color(hex: "56b4e9")?.hex == "#56B4E9")
        #expect(Color(hex: "#12345") == nil)
        #expect(Color(hex: "#GG0000") == nil)
        #expect(Color(red: 2, green: -1, blue: .nan).hex == "#FF0000")
    }

    @Test("Blending moves linearly between two colours")
    func blending() {
        let mid = Color.black.blended(with: .white, fraction: 0.5)
        #expect(mid.hex == "#808080")
        #expect(Color.black.blended(with: .white, fraction: 3).hex == "#FFFFFF")
    }

    @Test("The palette starts with Okabe–Ito orange, sky blue, green and cycles both ways")
    func palette() {
        let palette = Palette.okabeIto
        #expect(palette[0].hex == "#E69F00")
        #expect(palette[1].hex == "#56B4E9")
        #expect(palette[2].hex == "#009E73")
        #expect(palette[palette.colors.count] == palette[0])
        #expect(palette[-1] == palette[palette.colors.count - 1])
        #expect(Palette([]).colors == Palette.okabeIto.colors)
    }

    @Test("Viridis hits its anchors and interpolates between them")
    func viridis() {
        let map = Colormap.viridis
        #expect(map.color(at: 0).hex == "#440154")
        #expect(map.color(at: 0.5).hex == "#21908C")
        #expect(map.color(at: 1).hex == "#FDE725")
        #expect(map.color(at: -4).hex == "#440154")
        #expect(map.color(at: 9).hex == "#FDE725")
        #expect(map.color(at: .nan).hex == "#440154")
        // Halfway between the anchors at 0.875 (#AADC32) and 1 (#FDE725).
        let between = map.color(at: 0.9375)
        #expect(between.hex == Color(hex: "#AADC32")!.blended(with: Color(hex: "#FDE725")!, fraction: 0.5).hex)
        #expect(Colormap.grayscale.reversed().color(at: 0).hex == "#FFFFFF")
    }
}
