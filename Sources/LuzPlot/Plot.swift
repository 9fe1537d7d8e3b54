/// One panel of a figure: axes, a title, a legend, and layers of marks drawn in the order they
/// were added (add decision regions before the points that go on top of them).
///
/// `Plot` is a value; each layer method returns a copy with the layer added, so plots read as a
/// chain:
///
/// ```swift
/// let plot = Plot(title: "Penguins", xLabel: "bill length (mm)", yLabel: "flipper length (mm)")
///     .regions(x: gridX, y: gridY, classes: predictedGrid)
///     .scatter(x: bill, y: flipper, classes: species, classNames: ["Adelie", "Chinstrap", "Gentoo"])
/// try Figure(plot).write(to: "penguins.svg")
/// ```
///
/// Non-finite values (NaN, ±infinity) are never drawn: a point with a non-finite coordinate is
/// skipped, a line is broken at such a point, a non-finite heat-map cell is drawn grey, and a
/// non-finite image pixel is drawn as the low end of the colour scale. When two coordinate arrays
/// have different lengths the extra values of the longer one are ignored.
public struct Plot: Sendable {
    /// The panel title, drawn above the plotting area.
    public var title: String?
    /// The colour of the title (e.g. ``Color/red`` for a misclassified image's caption).
    public var titleColor: Color = .darkGray
    /// The font size of the title, in pixels.
    public var titleFontSize: Double = 13
    /// The label under the horizontal axis.
    public var xLabel: String?
    /// The label left of the vertical axis (drawn rotated).
    public var yLabel: String?
    /// Fixed horizontal limits; `nil` fits the data and expands it by 5% on each side, like ggplot.
    public var xLimits: ClosedRange<Double>?
    /// Fixed vertical limits; `nil` fits the data and expands it by 5% on each side, like ggplot.
    public var yLimits: ClosedRange<Double>?
    /// Explicit horizontal tick positions; `nil` chooses nice ticks (see ``Ticks/nice(in:targetCount:)``).
    public var xTicks: [Double]?
    /// Explicit vertical tick positions; `nil` chooses nice ticks.
    public var yTicks: [Double]?
    /// Restricts automatic horizontal ticks to whole numbers (for epochs, counts, indices).
    public var xTicksAreIntegers = false
    /// A bold heading above the legend entries (e.g. `"species"`).
    public var legendTitle: String?
    /// Whether to draw the legend (for labelled series and named classes).
    public var showsLegend = true
    /// Whether to draw axes, ticks and the grey grid background; image tiles turn this off.
    public var showsAxes = true
    /// The colours given to classes and to series without an explicit colour.
    public var palette: Palette = .okabeIto

    /// The layers, in drawing order.
    var layers: [Layer] = []

    /// Creates an empty panel.
    /// - Parameters:
    ///   - title: The panel title.
    ///   - xLabel: The horizontal axis label.
    ///   - yLabel: The vertical axis label.
    public init(title: String? = nil, xLabel: String? = nil, yLabel: String? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
    }

    /// The number of layers added so far.
    public var layerCount: Int { layers.count }

    /// Returns a copy with points of one colour added.
    ///
    /// Points with a non-finite coordinate are skipped.
    /// - Parameters:
    ///   - x: Horizontal coordinates.
    ///   - y: Vertical coordinates.
    ///   - label: A legend entry for these points; `nil` adds none.
    ///   - color: The colour; `nil` takes the next palette colour among unclassed layers.
    ///   - radius: The point radius in pixels.
    public func scatter<X: PlottableValue, Y: PlottableValue>(
        x: [X], y: [Y], label: String? = nil, color: Color? = nil, radius: Double = 2.5
    ) -> Plot {
        adding(.points(PointsLayer(
            x: x.plotValues, y: y.plotValues, classes: nil, classNames: nil,
            label: label, color: color, radius: radius)))
    }

    /// Returns a copy with points coloured by class added, with a legend entry per class.
    ///
    /// Class `k` gets `palette[k]`; decision regions drawn with ``regions(x:y:classes:classNames:)``
    /// use lighter versions of the same colours. Points with a non-finite coordinate are skipped.
    /// - Parameters:
    ///   - x: Horizontal coordinates.
    ///   - y: Vertical coordinates.
    ///   - classes: The class index of each point.
    ///   - classNames: Legend names indexed by class; missing names show the class index.
    ///   - radius: The point radius in pixels.
    public func scatter<X: PlottableValue, Y: PlottableValue, C: BinaryInteger>(
        x: [X], y: [Y], classes: [C], classNames: [String]? = nil, radius: Double = 2.5
    ) -> Plot {
        adding(.points(PointsLayer(
            x: x.plotValues, y: y.plotValues, classes: classes.map { Int(truncatingIfNeeded: $0) },
            classNames: classNames, label: nil, color: nil, radius: radius)))
    }

    /// Returns a copy with a line through the points `(x[i], y[i])`, in the given order, added.
    ///
    /// The line is broken wherever a coordinate is non-finite.
    /// - Parameters:
    ///   - x: Horizontal coordinates.
    ///   - y: Vertical coordinates.
    ///   - label: The legend entry for this series; `nil` adds none.
    ///   - color: The colour; `nil` takes the next palette colour among unclassed layers.
    ///   - width: The stroke width in pixels.
    ///   - dashed: Whether to draw the line dashed.
    ///   - showsMarkers: Whether to also draw a dot at every point (as luz's training curves do).
    public func line<X: PlottableValue, Y: PlottableValue>(
        x: [X], y: [Y], label: String? = nil, color: Color? = nil, width: Double = 1.5,
        dashed: Bool = false, showsMarkers: Bool = false
    ) -> Plot {
        adding(.line(LineLayer(
            x: x.plotValues, y: y.plotValues, label: label, color: color, width: width,
            dashed: dashed, showsMarkers: showsMarkers)))
    }

    /// Returns a copy with filled decision regions added: one lightly coloured cell per grid point.
    ///
    /// `classes[i][j]` is the class predicted at `(x[j], y[i])`. Cells extend halfway to their
    /// neighbours, so the regions tile the grid's extent; the axis limits include that extent
    /// without the 5% expansion. Negative class indices are left unfilled.
    /// - Parameters:
    ///   - x: The grid's column centres, ascending.
    ///   - y: The grid's row centres, ascending.
    ///   - classes: The class of each cell, one row per `y` value.
    ///   - classNames: Legend names, used only when no scatter layer already names the classes.
    ///   - lightening: How far each class colour is blended towards white (0 keeps it, 1 is white).
    public func regions<X: PlottableValue, Y: PlottableValue, C: BinaryInteger>(
        x: [X], y: [Y], classes: [[C]], classNames: [String]? = nil, lightening: Double = 0.6
    ) -> Plot {
        adding(.regions(RegionsLayer(
            x: x.plotValues, y: y.plotValues,
            classes: classes.map { row in row.map { Int(truncatingIfNeeded: $0) } },
            classNames: classNames, lightening: lightening)))
    }

    /// Returns a copy with filled decision regions added, the classes given as one flat array in
    /// row-major order: `classes[i * x.count + j]` is the class at `(x[j], y[i])`.
    ///
    /// This is the layout of predictions made on a grid built with `y` as the outer loop.
    /// - Parameters:
    ///   - x: The grid's column centres, ascending.
    ///   - y: The grid's row centres, ascending.
    ///   - flatClasses: `x.count * y.count` class indices, row by row; missing cells stay unfilled.
    ///   - classNames: Legend names, used only when no scatter layer already names the classes.
    ///   - lightening: How far each class colour is blended towards white.
    public func regions<X: PlottableValue, Y: PlottableValue, C: BinaryInteger>(
        x: [X], y: [Y], flatClasses: [C], classNames: [String]? = nil, lightening: Double = 0.6
    ) -> Plot {
        let columns = x.count
        let rows: [[C]] = (0..<y.count).map { i in
            let start = min(i * columns, flatClasses.count)
            let end = min(start + columns, flatClasses.count)
            return Array(flatClasses[start..<end])
        }
        return regions(x: x, y: y, classes: rows, classNames: classNames, lightening: lightening)
    }

    /// Returns a copy with a heat map of a matrix added, with a colour bar as its legend.
    ///
    /// Row 0 is drawn at the top, as matrices are printed. The axes become categorical: ticks sit
    /// at cell centres and are labelled with `rowLabels` / `columnLabels`, or with indices.
    /// Non-finite cells are drawn grey (``Color/gray``). Ragged rows are padded with grey cells.
    /// - Parameters:
    ///   - values: The matrix, one array per row (e.g. attention weights, queries × keys).
    ///   - rowLabels: Labels for the rows, top to bottom.
    ///   - columnLabels: Labels for the columns, left to right; rotated when too wide for a cell.
    ///   - colormap: The colour scale.
    ///   - valueRange: The values mapped to the ends of the scale; `nil` uses the finite min...max.
    ///   - showsValues: Whether to print each cell's value (two decimals) inside it.
    public func heatmap<V: PlottableValue>(
        _ values: [[V]], rowLabels: [String]? = nil, columnLabels: [String]? = nil,
        colormap: Colormap = .viridis, valueRange: ClosedRange<Double>? = nil, showsValues: Bool = false
    ) -> Plot {
        adding(.heatmap(HeatmapLayer(
            values: values.map(\.plotValues), rowLabels: rowLabels, columnLabels: columnLabels,
            colormap: colormap, valueRange: valueRange, showsValues: showsValues)))
    }

    /// Returns a copy with a heat map of a matrix stored row-major in one flat array added.
    ///
    /// Drawn like the matrix (`[[V]]`) form; missing trailing values are drawn as grey cells.
    /// - Parameters:
    ///   - values: `rows * columns` values, row by row.
    ///   - rows: The number of rows.
    ///   - columns: The number of columns.
    ///   - rowLabels: Labels for the rows, top to bottom.
    ///   - columnLabels: Labels for the columns, left to right.
    ///   - colormap: The colour scale.
    ///   - valueRange: The values mapped to the ends of the scale; `nil` uses the finite min...max.
    ///   - showsValues: Whether to print each cell's value inside it.
    public func heatmap<V: PlottableValue>(
        _ values: [V], rows: Int, columns: Int, rowLabels: [String]? = nil,
        columnLabels: [String]? = nil, colormap: Colormap = .viridis,
        valueRange: ClosedRange<Double>? = nil, showsValues: Bool = false
    ) -> Plot {
        let flat = values.plotValues
        let matrix: [[Double]] = (0..<max(rows, 0)).map { i in
            (0..<max(columns, 0)).map { j in
                let index = i * columns + j
                return index < flat.count ? flat[index] : .nan
            }
        }
        return heatmap(matrix, rowLabels: rowLabels, columnLabels: columnLabels, colormap: colormap,
                       valueRange: valueRange, showsValues: showsValues)
    }

    /// Returns a copy with a raster image added (e.g. a 28×28 grayscale digit).
    ///
    /// The image fills `0...width × 0...height` in data coordinates with row 0 at the top and
    /// keeps square pixels. Pixels are drawn as rectangles; pixels at the low end of the scale
    /// show the image background and cost nothing, so sparse digits stay small.
    /// - Parameters:
    ///   - pixels: `width * height` values, row by row; missing pixels count as the low end.
    ///   - width: The number of columns.
    ///   - height: The number of rows.
    ///   - colormap: The colour scale (``Colormap/grayscale``: 0 is black, 1 is white).
    ///   - valueRange: The values mapped to the ends of the scale (`0...1` for `Float` images;
    ///     pass `0...255` for raw bytes).
    public func image<V: PlottableValue>(
        _ pixels: [V], width: Int, height: Int, colormap: Colormap = .grayscale,
        valueRange: ClosedRange<Double> = 0...1
    ) -> Plot {
        adding(.image(ImageLayer(
            pixels: pixels.plotValues, width: max(width, 0), height: max(height, 0),
            colormap: colormap, valueRange: valueRange)))
    }

    private func adding(_ layer: Layer) -> Plot {
        var copy = self
        copy.layers.append(layer)
        return copy
    }
}

/// A layer of marks inside a ``Plot``, with values already converted to `Double`.
enum Layer: Sendable {
    case points(PointsLayer)
    case line(LineLayer)
    case regions(RegionsLayer)
    case heatmap(HeatmapLayer)
    case image(ImageLayer)
}

struct PointsLayer: Sendable {
    var x: [Double]
    var y: [Double]
    var classes: [Int]?
    var classNames: [String]?
    var label: String?
    var color: Color?
    var radius: Double
}

struct LineLayer: Sendable {
    var x: [Double]
    var y: [Double]
    var label: String?
    var color: Color?
    var width: Double
    var dashed: Bool
    var showsMarkers: Bool
}

struct RegionsLayer: Sendable {
    var x: [Double]
    var y: [Double]
    var classes: [[Int]]
    var classNames: [String]?
    var lightening: Double
}

struct HeatmapLayer: Sendable {
    var values: [[Double]]
    var rowLabels: [String]?
    var columnLabels: [String]?
    var colormap: Colormap
    var valueRange: ClosedRange<Double>?
    var showsValues: Bool

    var rowCount: Int { values.count }
    var columnCount: Int { values.map(\.count).max() ?? 0 }

    /// The range mapped onto the colour scale: the given one, or the finite min...max (widened
    /// when all values are equal so that the scale is not degenerate).
    var resolvedRange: ClosedRange<Double> {
        if let valueRange, valueRange.lowerBound.isFinite, valueRange.upperBound.isFinite,
           valueRange.upperBound > valueRange.lowerBound {
            return valueRange
        }
        let finite = values.joined().filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max() else { return 0...1 }
        return high > low ? low...high : (low - 0.5)...(high + 0.5)
    }
}

struct ImageLayer: Sendable {
    var pixels: [Double]
    var width: Int
    var height: Int
    var colormap: Colormap
    var valueRange: ClosedRange<Double>
}
