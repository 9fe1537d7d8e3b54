/// Accumulates SVG markup. Every number goes through one formatter (two decimals, trailing zeros
/// trimmed) and every piece of user text through one escaper, so output is deterministic and
/// well-formed whatever the input.
struct SVGWriter {
    private(set) var text = ""

    init() {
        text.reserveCapacity(1 << 16)
    }

    mutating func raw(_ markup: String) {
        text += markup
        text += "\n"
    }

    mutating func open(_ element: String, _ attributes: [(String, String)] = []) {
        text += "<" + element + Self.attributeList(attributes) + ">\n"
    }

    mutating func close(_ element: String) {
        text += "</" + element + ">\n"
    }

    mutating func empty(_ element: String, _ attributes: [(String, String)]) {
        text += "<" + element + Self.attributeList(attributes) + "/>\n"
    }

    mutating func rect(
        x: Double, y: Double, width: Double, height: Double, fill: Color,
        className: String? = nil, extra: [(String, String)] = []
    ) {
        var attributes: [(String, String)] = []
        if let className { attributes.append(("class", className)) }
        attributes += [
            ("x", Self.number(x)), ("y", Self.number(y)),
            ("width", Self.number(max(width, 0))), ("height", Self.number(max(height, 0))),
            ("fill", fill.hex),
        ]
        empty("rect", attributes + extra)
    }

    mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: Color, width: Double,
                       extra: [(String, String)] = []) {
        empty("line", [
            ("x1", Self.number(x1)), ("y1", Self.number(y1)),
            ("x2", Self.number(x2)), ("y2", Self.number(y2)),
            ("stroke", stroke.hex), ("stroke-width", Self.number(width)),
        ] + extra)
    }

    /// A text element. `anchor` is `start`, `middle` or `end`; `rotation` is in degrees about
    /// the anchor point.
    mutating func text(
        _ content: String, x: Double, y: Double, size: Double, anchor: String = "start",
        color: Color = .darkGray, bold: Bool = false, rotation: Double = 0, className: String? = nil
    ) {
        var attributes: [(String, String)] = []
        if let className { attributes.append(("class", className)) }
        attributes += [
            ("x", Self.number(x)), ("y", Self.number(y)), ("font-size", Self.number(size)),
            ("fill", color.hex),
        ]
        if anchor != "start" { attributes.append(("text-anchor", anchor)) }
        if bold { attributes.append(("font-weight", "bold")) }
        if rotation != 0 {
            attributes.append(("transform",
                               "rotate(\(Self.number(rotation)) \(Self.number(x)) \(Self.number(y)))"))
        }
        self.text += "<text" + Self.attributeList(attributes) + ">" + escapeXML(content) + "</text>\n"
    }

    /// A coordinate or length: two decimals (1/100 px is below what any renderer shows), trailing
    /// zeros trimmed, clamped so that absurd data cannot produce absurd numbers.
    static func number(_ value: Double) -> String {
        formatFixed(min(max(value, -1e7), 1e7), decimals: 2, trimsZeros: true)
    }

    private static func attributeList(_ attributes: [(String, String)]) -> String {
        var list = ""
        for (name, value) in attributes {
            list += " " + name + "=\"" + escapeXML(value) + "\""
        }
        return list
    }
}

/// Escapes text for XML content and attribute values: `& < > " '` become entities and the
/// control characters that XML 1.0 forbids (everything below U+0020 except tab, newline and
/// carriage return, plus U+FFFE and U+FFFF) are dropped.
func escapeXML(_ text: String) -> String {
    var escaped = ""
    escaped.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": escaped += "&amp;"
        case "<": escaped += "&lt;"
        case ">": escaped += "&gt;"
        case "\"": escaped += "&quot;"
        case "'": escaped += "&apos;"
        case "\t", "\n", "\r": escaped.unicodeScalars.append(scalar)
        default:
            if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF { continue }
            escaped.unicodeScalars.append(scalar)
        }
    }
    return escaped
}

/// Estimated width of a line of sans-serif text, in pixels.
///
/// SVG has no text measurement without a renderer, so layout uses per-character averages of
/// common sans-serif fonts (Helvetica, Arial, DejaVu Sans), erring wide so labels are not clipped.
func estimatedTextWidth(_ text: String, size: Double) -> Double {
    var ems = 0.0
    for character in text {
        switch character {
        case "i", "j", "l", ".", ",", ":", ";", "'", "|", "!", "I": ems += 0.3
        case " ", "f", "t", "r", "(", ")", "[", "]", "-": ems += 0.38
        case "m", "w", "M", "W", "@": ems += 0.92
        case "A"..."Z": ems += 0.7
        case "0"..."9": ems += 0.6
        default: ems += character.isASCII ? 0.58 : 1.0
        }
    }
    return ems * size
}
