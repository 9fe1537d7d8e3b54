/// An opaque sRGB colour, each channel in `0...1`.
///
/// Colours are written to SVG as `#RRGGBB`, so two colours that round to the same 8-bit
/// channels produce identical output.
public struct Color: Hashable, Sendable {
    /// The red channel, in `0...1`.
    public var red: Double
    /// The green channel, in `0...1`.
    public var green: Double
    /// The blue channel, in `0...1`.
    public var blue: Double

    /// Creates a colour from channels in `0...1`; values outside are clamped, NaN becomes 0.
    /// - Parameters:
    ///   - red: The red channel.
    ///   - green: The green channel.
    ///   - blue: The blue channel.
    public init(red: Double, green: Double, blue: Double) {
        self.red = Color.clamped(red)
        self.green = Color.clamped(green)
        self.blue = Color.clamped(blue)
    }

    /// Creates a colour from a hexadecimal string such as `"#E69F00"` or `"E69F00"`.
    ///
    /// Returns `nil` unless the string holds exactly six hexadecimal digits (after an optional `#`).
    /// - Parameter hex: The colour as `RRGGBB`, optionally prefixed with `#`.
    public init?(hex: String) {
        let digits = hex.hasPrefix("#") ? String(hex.dropFirst()) : hex
        guard digits.count == 6, let value = UInt32(digits, radix: 16) else { return nil }
        self.init(
            red: Double((value >> 16) & 0xFF) / 255,
            green: Double((value >> 8) & 0xFF) / 255,
            blue: Double(value & 0xFF) / 255)
    }

    /// The colour as an uppercase `#RRGGBB` string, as written into SVG files.
    public var hex: String {
        let digits = Array("0123456789ABCDEF")
        var text = "#"
        for channel in [red, green, blue] {
            let byte = Int((channel * 255).rounded())
            text.append(digits[byte >> 4])
            text.append(digits[byte & 0xF])
        }
        return text
    }

    /// The relative luminance (Rec. 709 weights on the sRGB channels, without linearisation),
    /// used to choose black or white text on top of a colour.
    public var luminance: Double { 0.2126 * red + 0.7152 * green + 0.0722 * blue }

    /// Returns this colour moved a fraction of the way towards another colour.
    ///
    /// `result = (1 - fraction) · self + fraction · other`, channel by channel in sRGB.
    /// - Parameters:
    ///   - other: The colour to move towards.
    ///   - fraction: 0 keeps this colour, 1 gives `other`.
    public func blended(with other: Color, fraction: Double) -> Color {
        let t = Color.clamped(fraction)
        return Color(
            red: red + (other.red - red) * t,
            green: green + (other.green - green) * t,
            blue: blue + (other.blue - blue) * t)
    }

    /// Black, `#000000`.
    public static let black = Color(red: 0, green: 0, blue: 0)
    /// White, `#FFFFFF`.
    public static let white = Color(red: 1, green: 1, blue: 1)
    /// A dark grey, `#333333`, the default colour of text.
    public static let darkGray = Color(red: 0.2, green: 0.2, blue: 0.2)
    /// A mid grey, `#7F7F7F`, the colour of missing (non-finite) heat-map cells.
    public static let gray = Color(red: 0.5, green: 0.5, blue: 0.5)
    /// A strong red, `#D62728`, e.g. for the captions of wrongly classified images.
    public static let red = Color(red: 0.839, green: 0.153, blue: 0.157)
    /// A dark green, `#1B7F3B`, e.g. for the captions of correctly classified images.
    public static let green = Color(red: 0.106, green: 0.498, blue: 0.231)

    private static func clamped(_ value: Double) -> Double {
        guard !value.isNaN else { return 0 }
        return min(max(value, 0), 1)
    }
}

/// A list of colours for categories (classes, series), used in order and cycled when there are
/// more categories than colours.
public struct Palette: Hashable, Sendable {
    /// The colours, in the order categories receive them. Never empty.
    public let colors: [Color]

    /// Creates a palette; an empty list falls back to ``Palette/okabeIto``.
    /// - Parameter colors: The colours, in the order categories receive them.
    public init(_ colors: [Color]) {
        self.colors = colors.isEmpty ? Palette.okabeIto.colors : colors
    }

    /// The colour of category `index`, cycling through the palette (negative indices too).
    public subscript(index: Int) -> Color {
        let count = colors.count
        return colors[((index % count) + count) % count]
    }

    /// The Okabe–Ito categorical palette, distinguishable under the common forms of colour
    /// blindness: orange, sky blue, bluish green, blue, vermillion, reddish purple, yellow, black.
    ///
    /// Yellow is moved to the end (it is hard to see on a light background); the first three
    /// colours, used for three-class problems such as the penguins, are orange, sky blue and green.
    public static let okabeIto = Palette([
        Color(hex: "#E69F00")!, Color(hex: "#56B4E9")!, Color(hex: "#009E73")!,
        Color(hex: "#0072B2")!, Color(hex: "#D55E00")!, Color(hex: "#CC79A7")!,
        Color(hex: "#F0E442")!, Color(hex: "#000000")!,
    ])
}

/// A continuous colour scale: maps a value in `0...1` to a colour by linear interpolation (in
/// sRGB) between evenly spaced anchor colours.
public struct Colormap: Hashable, Sendable {
    /// The anchor colours, at `0, 1/(n-1), ..., 1`. Never empty.
    public let anchors: [Color]

    /// Creates a colormap from evenly spaced anchors; an empty list falls back to black-to-white.
    /// - Parameter anchors: Colours at `0, 1/(n-1), ..., 1`.
    public init(anchors: [Color]) {
        self.anchors = anchors.isEmpty ? [.black, .white] : anchors
    }

    /// The colour at position `t`; `t` is clamped to `0...1` and NaN maps to the first anchor.
    /// - Parameter t: The position on the scale.
    public func color(at t: Double) -> Color {
        guard anchors.count > 1 else { return anchors[0] }
        let position = t.isNaN ? 0 : min(max(t, 0), 1)
        let scaled = position * Double(anchors.count - 1)
        let lower = min(Int(scaled), anchors.count - 2)
        return anchors[lower].blended(with: anchors[lower + 1], fraction: scaled - Double(lower))
    }

    /// The same scale running the other way.
    public func reversed() -> Colormap {
        Colormap(anchors: anchors.reversed())
    }

    /// A viridis-like perceptually ordered scale from dark purple through teal to yellow,
    /// interpolated between nine anchors sampled from matplotlib's viridis.
    public static let viridis = Colormap(anchors: [
        "#440154", "#472D7B", "#3B528B", "#2C728E", "#21908C",
        "#27AD81", "#5DC863", "#AADC32", "#FDE725",
    ].map { Color(hex: $0)! })

    /// Black (0) to white (1), the usual way MNIST digits are shown.
    public static let grayscale = Colormap(anchors: [.black, .white])

    /// A diverging scale, blue (0) through white (0.5) to vermillion (1), for signed values such
    /// as weights centred on zero.
    public static let blueWhiteRed = Colormap(anchors: [
        Color(hex: "#2166AC")!, Color(hex: "#F7F7F7")!, Color(hex: "#B2182B")!,
    ])
}
