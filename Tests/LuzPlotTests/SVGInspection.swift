import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A parsed SVG document, for asserting on the marks a figure contains.
///
/// Parsing with `XMLDocument` is itself the well-formedness check: it throws on unbalanced tags,
/// unescaped `&` or `<`, and forbidden control characters.
struct ParsedSVG {
    let document: XMLDocument

    init(_ svg: String) throws {
        document = try XMLDocument(xmlString: svg, options: [])
    }

    /// Elements whose `class` attribute is exactly `className`.
    func elements(withClass className: String) throws -> [XMLElement] {
        try document.nodes(forXPath: "//*[@class='\(className)']").compactMap { $0 as? XMLElement }
    }

    /// How many elements have the class `className`.
    func count(_ className: String) throws -> Int {
        try elements(withClass: className).count
    }

    /// The text content of the elements with class `className`, in document order.
    func texts(withClass className: String) throws -> [String] {
        try elements(withClass: className).map { $0.stringValue ?? "" }
    }

    /// The value of `attribute` on each element with class `className`.
    func attribute(_ attribute: String, ofClass className: String) throws -> [String] {
        try elements(withClass: className).map { $0.value(of: attribute) ?? "" }
    }

    /// The root element's attribute, e.g. `width`.
    func rootAttribute(_ name: String) -> String? {
        document.rootElement()?.value(of: name)
    }

    /// Every element named `name` (any namespace).
    func elements(named name: String) throws -> [XMLElement] {
        try document.nodes(forXPath: "//*[local-name()='\(name)']").compactMap { $0 as? XMLElement }
    }
}

extension XMLElement {
    /// The value of the attribute called `name`.
    ///
    /// `attribute(forName:)` returns nil on Linux (swift-corelibs-foundation) for elements in a
    /// default namespace, as every SVG element is, so the attribute list is searched instead.
    func value(of name: String) -> String? {
        attributes?.first { $0.name == name }?.stringValue
    }

    /// The attribute called `name` as a number (NaN when missing or malformed, so comparisons fail).
    func number(_ name: String) -> Double {
        value(of: name).flatMap(Double.init) ?? .nan
    }
}
