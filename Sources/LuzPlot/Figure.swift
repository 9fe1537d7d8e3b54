import Foundation
import LuzSerialization
import LuzTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole SVG drawing: an optional title over one or more ``Plot`` panels laid out in a grid.
///
/// ```swift
/// let plot = Plot(title: "Fit", xLabel: "x", yLabel: "y")
///     .scatter(x: xs, y: ys, label: "data")
///     .line(x: grid, y: fitted, label: "degree-9 fit")
/// try Figure(plot, width: 640, height: 420).write(to: "fit.svg")
/// ```
///
/// The output is deterministic: the same figure always gives byte-identical SVG (numbers are
/// written with at most two decimals, ids come from panel positions, there are no timestamps).
public struct Figure: Sendable {
    /// The width of the drawing, in pixels.
    public var width: Double
    /// The height of the drawing, in pixels.
    public var height: Double
    /// A title over all panels.
    public var title: String?
    /// The panels, filled into the grid row by row.
    public var panels: [Plot]
    /// The number of panel columns (rows follow from the panel count).
    public var columns: Int
    /// The colour behind everything.
    public var background: Color = .white

    /// Creates a figure of a given size; the panels share it equally.
    /// - Parameters:
    ///   - width: The width in pixels.
    ///   - height: The height in pixels.
    ///   - title: A title over all panels.
    ///   - panels: The panels, row by row.
    ///   - columns: The number of panel columns.
    public init(width: Double = 640, height: Double = 480, title: String? = nil, panels: [Plot] = [],
                columns: Int = 1) {
        self.width = width
        self.height = height
        self.title = title
        self.panels = panels
        self.columns = columns
    }

    /// Creates a figure holding a single panel.
    /// - Parameters:
    ///   - plot: The panel (its own title is drawn above it).
    ///   - width: The width in pixels.
    ///   - height: The height in pixels.
    public init(_ plot: Plot, width: Double = 640, height: Double = 480) {
        self.init(width: width, height: height, panels: [plot])
    }

    /// Creates small multiples: panels of a fixed size in a grid (e.g. one per layer of a network).
    /// - Parameters:
    ///   - panels: The panels, row by row.
    ///   - columns: The number of columns; fewer are used when there are fewer panels.
    ///   - title: A title over all panels.
    ///   - panelWidth: The width of each panel, in pixels.
    ///   - panelHeight: The height of each panel, in pixels.
    public static func grid(
        panels: [Plot], columns: Int, title: String? = nil, panelWidth: Double = 300, panelHeight: Double = 260
    ) -> Figure {
        let columnCount = max(1, min(columns, max(panels.count, 1)))
        let rowCount = max(1, (panels.count + columnCount - 1) / columnCount)
        return Figure(
            width: panelWidth * Double(columnCount),
            height: panelHeight * Double(rowCount) + (title == nil ? 0 : titleHeight),
            title: title, panels: panels, columns: columnCount)
    }

    /// Height of the figure title's band, in pixels.
    static let titleHeight = 30.0

    /// Renders the figure as a standalone SVG document (UTF-8, with an XML declaration).
    public func svgString() -> String {
        let width = width.isFinite ? max(width, 1) : 640
        let height = height.isFinite ? max(height, 1) : 480
        var svg = SVGWriter()
        svg.raw(#"<?xml version="1.0" encoding="UTF-8"?>"#)
        svg.open("svg", [
            ("xmlns", "http://www.w3.org/2000/svg"), ("version", "1.1"),
            ("width", SVGWriter.number(width)), ("height", SVGWriter.number(height)),
            ("viewBox", "0 0 \(SVGWriter.number(width)) \(SVGWriter.number(height))"),
            ("font-family", "Helvetica, Arial, 'DejaVu Sans', sans-serif"),
        ])
        svg.rect(x: 0, y: 0, width: width, height: height, fill: background, className: "figure-background")
        var top = 0.0
        if let title {
            svg.text(title, x: width / 2, y: 21, size: 15, anchor: "middle", color: .black, bold: true,
                     className: "figure-title")
            top = Figure.titleHeight
        }
        let columnCount = max(1, min(columns, max(panels.count, 1)))
        let rowCount = max(1, (panels.count + columnCount - 1) / columnCount)
        let cellWidth = width / Double(columnCount)
        let cellHeight = max(height - top, 1) / Double(rowCount)
        for (index, panel) in panels.enumerated() {
            let frame = Rect(
                x: Double(index % columnCount) * cellWidth, y: top + Double(index / columnCount) * cellHeight,
                width: cellWidth, height: cellHeight)
            panel.render(into: &svg, frame: frame, id: index)
        }
        svg.close("svg")
        return svg.text
    }

    /// Writes the SVG to a file atomically: to a temporary file in the same directory, then
    /// renamed over `path`, so readers never see a half-written figure.
    /// - Parameter path: The destination file; its directory must exist.
    /// - Throws: ``PlotError/writeFailed(path:reason:)`` naming `path`.
    public func write(to path: String) throws {
        let destination = URL(fileURLWithPath: path)
        let directory = destination.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            throw PlotError.writeFailed(path: path, reason: "directory '\(directory.path)' does not exist")
        }
        do {
            try AtomicFileWriter.write(Array(svgString().utf8), to: path)
        } catch let error as FileWriteError {
            throw PlotError.writeFailed(path: path, reason: error.reason)
        }
    }
}

/// Errors from writing figures.
public enum PlotError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The figure could not be written to `path`.
    case writeFailed(path: String, reason: String)

    /// A message naming the path and the cause.
    public var description: String {
        switch self {
        case .writeFailed(let path, let reason):
            return "cannot write figure to '\(path)': \(reason)"
        }
    }

    /// The same message as ``description``.
    public var errorDescription: String? { description }
}
