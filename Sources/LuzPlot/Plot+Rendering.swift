import Foundation

/// A rectangle in SVG pixel coordinates (y grows downwards).
struct Rect {
    var x: Double
    var y: Double
    var width: Double
    var height: Double

    var maxX: Double { x + width }
    var maxY: Double { y + height }
    var midX: Double { x + width / 2 }
    var midY: Double { y + height / 2 }
}

/// Sizes shared by every panel, in pixels.
private enum Metrics {
    static let padding = 8.0
    static let tickLength = 4.0
    static let tickGap = 3.0
    static let tickFontSize = 10.0
    static let axisLabelFontSize = 11.0
    static let legendFontSize = 11.0
    static let legendRowHeight = 17.0
    static let legendMarkerWidth = 22.0
    static let colorBarWidth = 12.0
    static let panelBackground = Color(hex: "#EBEBEB")!
    static let gridLine = Color.white
    static let tickColor = Color(hex: "#4D4D4D")!
}

/// A tick: a position in data coordinates and its label.
struct AxisTick {
    var value: Double
    var label: String
}

/// One legend row.
struct LegendEntry: Equatable {
    enum Kind: Equatable {
        case point, line, lineWithMarker, square
    }

    var label: String
    var color: Color
    var kind: Kind
    var dashed = false
}

/// Minimum and maximum of the values added so far.
private struct Bounds {
    var low = Double.infinity
    var high = -Double.infinity

    var isEmpty: Bool { low > high }

    mutating func add(_ value: Double) {
        guard value.isFinite else { return }
        low = min(low, value)
        high = max(high, value)
    }

    mutating func add(_ other: Bounds) {
        guard !other.isEmpty else { return }
        add(other.low)
        add(other.high)
    }

    /// Widened by 5% of the span on each side (ggplot's default), or by a fixed amount when the
    /// span is zero so that a single value still gets a usable axis.
    var expanded: Bounds {
        guard !isEmpty else { return self }
        let span = high - low
        let margin = span > 0 ? span * 0.05 : max(abs(low) * 0.05, 0.5)
        return Bounds(low: low - margin, high: high + margin)
    }
}

/// Where each data coordinate lands in the panel.
private struct Mapping {
    var area: Rect
    var xDomain: ClosedRange<Double>
    var yDomain: ClosedRange<Double>
    var yReversed: Bool

    func x(_ value: Double) -> Double {
        area.x + (value - xDomain.lowerBound) / (xDomain.upperBound - xDomain.lowerBound) * area.width
    }

    func y(_ value: Double) -> Double {
        let fraction = (value - yDomain.lowerBound) / (yDomain.upperBound - yDomain.lowerBound)
        return yReversed ? area.y + fraction * area.height : area.maxY - fraction * area.height
    }
}

/// The centres' cell boundaries: halfway between neighbours, and half a spacing beyond the ends.
func cellEdges(_ centres: [Double]) -> [Double] {
    guard centres.count > 1 else {
        return centres.isEmpty ? [] : [centres[0] - 0.5, centres[0] + 0.5]
    }
    var edges = [centres[0] - (centres[1] - centres[0]) / 2]
    for index in 1..<centres.count {
        edges.append((centres[index - 1] + centres[index]) / 2)
    }
    let last = centres.count - 1
    edges.append(centres[last] + (centres[last] - centres[last - 1]) / 2)
    return edges
}

extension Plot {
    // MARK: Resolution of colours, domains and legend

    /// The colour of each unclassed layer (points without classes, lines): its own, or the next
    /// palette colour in layer order.
    private func seriesColors() -> [Color?] {
        var next = 0
        return layers.map { layer in
            switch layer {
            case .points(let points) where points.classes == nil:
                if let color = points.color { return color }
                defer { next += 1 }
                return palette[next]
            case .line(let line):
                if let color = line.color { return color }
                defer { next += 1 }
                return palette[next]
            default:
                return nil
            }
        }
    }

    /// The first heat map, which decides the categorical axes and the colour bar.
    private var heatmapLayer: HeatmapLayer? {
        for case .heatmap(let heatmap) in layers { return heatmap }
        return nil
    }

    private var hasImage: Bool {
        layers.contains { if case .image = $0 { return true } else { return false } }
    }

    private func domains() -> (x: ClosedRange<Double>, y: ClosedRange<Double>, yReversed: Bool) {
        var pointsX = Bounds(), pointsY = Bounds(), extentX = Bounds(), extentY = Bounds()
        var yReversed = false
        for layer in layers {
            switch layer {
            case .points(let points):
                for index in 0..<min(points.x.count, points.y.count)
                where points.x[index].isFinite && points.y[index].isFinite {
                    pointsX.add(points.x[index])
                    pointsY.add(points.y[index])
                }
            case .line(let line):
                for index in 0..<min(line.x.count, line.y.count)
                where line.x[index].isFinite && line.y[index].isFinite {
                    pointsX.add(line.x[index])
                    pointsY.add(line.y[index])
                }
            case .regions(let regions):
                guard regions.classes.contains(where: { !$0.isEmpty }) else { continue }
                cellEdges(regions.x).forEach { extentX.add($0) }
                cellEdges(regions.y).forEach { extentY.add($0) }
            case .heatmap(let heatmap):
                extentX.add(0)
                extentX.add(Double(heatmap.columnCount))
                extentY.add(0)
                extentY.add(Double(heatmap.rowCount))
                yReversed = true
            case .image(let image):
                extentX.add(0)
                extentX.add(Double(image.width))
                extentY.add(0)
                extentY.add(Double(image.height))
                yReversed = true
            }
        }
        func resolve(_ points: Bounds, _ extent: Bounds, _ limits: ClosedRange<Double>?) -> ClosedRange<Double> {
            if let limits, limits.lowerBound.isFinite, limits.upperBound.isFinite,
               limits.upperBound > limits.lowerBound {
                return limits
            }
            var bounds = points.expanded
            bounds.add(extent)
            if bounds.isEmpty { return 0...1 }
            if bounds.high > bounds.low { return bounds.low...bounds.high }
            return bounds.expanded.low...bounds.expanded.high
        }
        return (resolve(pointsX, extentX, xLimits), resolve(pointsY, extentY, yLimits), yReversed)
    }

    /// Legend rows, in layer order, without duplicates.
    func legendEntries() -> [LegendEntry] {
        let colors = seriesColors()
        var entries: [LegendEntry] = []
        func append(_ entry: LegendEntry) {
            if !entries.contains(entry) { entries.append(entry) }
        }
        let scatterNamesClasses = layers.contains {
            if case .points(let points) = $0, points.classes != nil { return true }
            return false
        }
        for (index, layer) in layers.enumerated() {
            switch layer {
            case .points(let points):
                if let classes = points.classes {
                    let count = min(points.x.count, points.y.count, classes.count)
                    var present = Set(classes.prefix(count))
                    present.formUnion(0..<(points.classNames?.count ?? 0))
                    for value in present.sorted() {
                        append(LegendEntry(label: className(value, points.classNames),
                                           color: palette[value], kind: .point))
                    }
                } else if let label = points.label, let color = colors[index] {
                    append(LegendEntry(label: label, color: color, kind: .point))
                }
            case .line(let line):
                if let label = line.label, let color = colors[index] {
                    append(LegendEntry(label: label, color: color,
                                       kind: line.showsMarkers ? .lineWithMarker : .line,
                                       dashed: line.dashed))
                }
            case .regions(let regions):
                guard !scatterNamesClasses, let names = regions.classNames else { continue }
                for (value, name) in names.enumerated() {
                    append(LegendEntry(
                        label: name, color: palette[value].blended(with: .white, fraction: regions.lightening),
                        kind: .square))
                }
            case .heatmap, .image:
                continue
            }
        }
        return entries
    }

    private func className(_ value: Int, _ names: [String]?) -> String {
        if let names, value >= 0, value < names.count { return names[value] }
        return String(value)
    }

    // MARK: Layout

    /// Draws the panel inside `frame`. `id` makes the panel's clip-path and gradient ids unique
    /// within the figure (and deterministic: they depend only on the panel's position).
    func render(into svg: inout SVGWriter, frame: Rect, id: Int) {
        let padding = Metrics.padding
        let (xDomain, yDomain, yReversed) = domains()
        let heatmap = heatmapLayer
        let legend = showsLegend ? legendEntries() : []

        var top = frame.y + padding
        if title != nil { top += titleFontSize + 6 }

        // Space on the right: legend, then colour bar.
        let legendWidth = legend.isEmpty ? 0 : max(
            legendTitle.map { estimatedTextWidth($0, size: Metrics.legendFontSize) } ?? 0,
            Metrics.legendMarkerWidth
                + (legend.map { estimatedTextWidth($0.label, size: Metrics.legendFontSize) }.max() ?? 0))
        var colorBarTicks: [AxisTick] = []
        var colorBarReserve = 0.0
        if let heatmap, showsLegend {
            let range = heatmap.resolvedRange
            let values = Ticks.nice(in: range, targetCount: 5)
            colorBarTicks = zip(values, Ticks.labels(for: values)).map { AxisTick(value: $0, label: $1) }
            let labelWidth = colorBarTicks.map { estimatedTextWidth($0.label, size: Metrics.tickFontSize) }.max() ?? 0
            colorBarReserve = 12 + Metrics.colorBarWidth + 4 + labelWidth
        }
        // Without a legend, leave room for half of the last horizontal tick label.
        let rightReserve = padding + (legend.isEmpty ? (showsAxes ? 10 : 0) : legendWidth + 12) + colorBarReserve

        var area: Rect
        var xTicks: [AxisTick] = []
        var yTicks: [AxisTick] = []
        var rotatesXLabels = false

        func mapping(_ area: Rect) -> Mapping {
            Mapping(area: area, xDomain: xDomain, yDomain: yDomain, yReversed: yReversed)
        }

        let axisLabelSpace = Metrics.axisLabelFontSize + 6
        let tickSpace = Metrics.tickLength + Metrics.tickGap
        if !showsAxes {
            area = Rect(x: frame.x + padding, y: top,
                        width: frame.width - padding - rightReserve, height: frame.maxY - padding - top)
        } else if let heatmap {
            // Categorical axes: cell centres, labelled by name or index.
            let rowNames = (0..<heatmap.rowCount).map { className($0, heatmap.rowLabels) }
            let columnNames = (0..<heatmap.columnCount).map { className($0, heatmap.columnLabels) }
            let rowLabelWidth = rowNames.map { estimatedTextWidth($0, size: Metrics.tickFontSize) }.max() ?? 0
            let columnLabelWidth = columnNames.map { estimatedTextWidth($0, size: Metrics.tickFontSize) }.max() ?? 0
            let left = frame.x + padding + (yLabel == nil ? 0 : axisLabelSpace) + rowLabelWidth + tickSpace
            let width = max(frame.maxX - rightReserve - left, 10)
            let cellWidth = width / Double(max(heatmap.columnCount, 1))
            rotatesXLabels = columnLabelWidth + 4 > cellWidth
            let labelHeight = rotatesXLabels ? columnLabelWidth : Metrics.tickFontSize
            let bottom = frame.maxY - padding - (xLabel == nil ? 0 : axisLabelSpace) - labelHeight - tickSpace
            area = Rect(x: left, y: top, width: width, height: max(bottom - top, 10))
            let cellHeight = area.height / Double(max(heatmap.rowCount, 1))
            let rowStride = Int((Metrics.tickFontSize + 1) / max(cellHeight, 0.01)) + 1
            let columnStride = rotatesXLabels ? Int((Metrics.tickFontSize + 1) / max(cellWidth, 0.01)) + 1 : 1
            yTicks = rowNames.enumerated().filter { $0.offset % rowStride == 0 }
                .map { AxisTick(value: Double($0.offset) + 0.5, label: $0.element) }
            xTicks = columnNames.enumerated().filter { $0.offset % columnStride == 0 }
                .map { AxisTick(value: Double($0.offset) + 0.5, label: $0.element) }
        } else {
            let bottom = frame.maxY - padding - (xLabel == nil ? 0 : axisLabelSpace)
                - Metrics.tickFontSize - tickSpace
            let height = max(bottom - top, 10)
            let provisional = Rect(x: frame.x, y: top, width: frame.width, height: height)
            yTicks = continuousTicks(domain: yDomain, explicit: self.yTicks, integers: false,
                                     horizontal: false, mapping: mapping(provisional))
            let yLabelWidth = yTicks.map { estimatedTextWidth($0.label, size: Metrics.tickFontSize) }.max() ?? 0
            let left = frame.x + padding + (yLabel == nil ? 0 : axisLabelSpace) + yLabelWidth + tickSpace
            area = Rect(x: left, y: top, width: max(frame.maxX - rightReserve - left, 10), height: height)
            xTicks = continuousTicks(domain: xDomain, explicit: self.xTicks, integers: xTicksAreIntegers,
                                     horizontal: true, mapping: mapping(area))
        }
        area.width = max(area.width, 1)
        area.height = max(area.height, 1)

        if hasImage {
            // Square pixels: shrink the area to the data's aspect ratio, centred.
            let aspect = (xDomain.upperBound - xDomain.lowerBound) / (yDomain.upperBound - yDomain.lowerBound)
            if area.width / area.height > aspect {
                let width = area.height * aspect
                area.x += (area.width - width) / 2
                area.width = width
            } else {
                let height = area.width / aspect
                area.y += (area.height - height) / 2
                area.height = height
            }
        }
        let map = mapping(area)

        svg.open("g", [("class", "panel")])
        let clipID = "luz-clip-\(id)"
        svg.open("defs")
        svg.open("clipPath", [("id", clipID)])
        svg.rect(x: area.x, y: area.y, width: area.width, height: area.height, fill: .black)
        svg.close("clipPath")
        svg.close("defs")

        if showsAxes && heatmap == nil {
            svg.rect(x: area.x, y: area.y, width: area.width, height: area.height,
                     fill: Metrics.panelBackground, className: "background")
            for tick in xTicks {
                let x = map.x(tick.value)
                svg.line(x1: x, y1: area.y, x2: x, y2: area.maxY, stroke: Metrics.gridLine, width: 1,
                         extra: [("class", "grid")])
            }
            for tick in yTicks {
                let y = map.y(tick.value)
                svg.line(x1: area.x, y1: y, x2: area.maxX, y2: y, stroke: Metrics.gridLine, width: 1,
                         extra: [("class", "grid")])
            }
        }

        svg.open("g", [("clip-path", "url(#\(clipID))")])
        let colors = seriesColors()
        for (index, layer) in layers.enumerated() {
            switch layer {
            case .points(let points): drawPoints(points, color: colors[index], map: map, into: &svg)
            case .line(let line): drawLine(line, color: colors[index] ?? palette[0], map: map, into: &svg)
            case .regions(let regions): drawRegions(regions, map: map, into: &svg)
            case .heatmap(let heatmap): drawHeatmap(heatmap, map: map, into: &svg)
            case .image(let image): drawImage(image, map: map, into: &svg)
            }
        }
        svg.close("g")

        if showsAxes {
            drawAxes(xTicks: xTicks, yTicks: yTicks, rotatesXLabels: rotatesXLabels, map: map,
                     frame: frame, into: &svg)
        }
        if let title {
            svg.text(title, x: area.midX, y: frame.y + padding + titleFontSize * 0.85,
                     size: titleFontSize, anchor: "middle", color: titleColor, bold: true, className: "title")
        }
        var rightX = area.maxX + 12
        if !legend.isEmpty {
            drawLegend(legend, x: rightX, area: area, into: &svg)
            rightX += legendWidth + 12
        }
        if let heatmap, showsLegend {
            drawColorBar(heatmap, ticks: colorBarTicks, x: rightX, area: area, id: id, into: &svg)
        }
        svg.close("g")
    }

    /// Nice (or explicit) ticks for a continuous axis, as many as fit without labels colliding.
    private func continuousTicks(
        domain: ClosedRange<Double>, explicit: [Double]?, integers: Bool, horizontal: Bool, mapping: Mapping
    ) -> [AxisTick] {
        func labelled(_ values: [Double]) -> [AxisTick] {
            zip(values, Ticks.labels(for: values)).map { AxisTick(value: $0, label: $1) }
        }
        if let explicit {
            return labelled(explicit.filter { $0.isFinite && domain.contains($0) }.sorted())
        }
        let length = horizontal ? mapping.area.width : mapping.area.height
        var target = min(max(Int(length / (horizontal ? 70 : 50)), 2), 10)
        while true {
            let ticks = labelled(Ticks.nice(in: domain, targetCount: target, minimumStep: integers ? 1 : 0))
            let fits = zip(ticks, ticks.dropFirst()).allSatisfy { first, second in
                if horizontal {
                    let needed = (estimatedTextWidth(first.label, size: Metrics.tickFontSize)
                        + estimatedTextWidth(second.label, size: Metrics.tickFontSize)) / 2 + 8
                    return abs(mapping.x(second.value) - mapping.x(first.value)) >= needed
                }
                return abs(mapping.y(second.value) - mapping.y(first.value)) >= Metrics.tickFontSize + 2
            }
            if fits || target <= 1 { return ticks }
            target -= 1
        }
    }

    // MARK: Marks

    private func drawPoints(_ points: PointsLayer, color: Color?, map: Mapping, into svg: inout SVGWriter) {
        var count = min(points.x.count, points.y.count)
        if let classes = points.classes { count = min(count, classes.count) }
        svg.open("g", [("class", "points"), ("stroke", Color.white.hex), ("stroke-width", "0.4")])
        let radius = SVGWriter.number(max(points.radius, 0))
        for index in 0..<count where points.x[index].isFinite && points.y[index].isFinite {
            let fill = points.classes.map { palette[$0[index]] } ?? color ?? palette[0]
            svg.empty("circle", [
                ("class", "point"), ("cx", SVGWriter.number(map.x(points.x[index]))),
                ("cy", SVGWriter.number(map.y(points.y[index]))), ("r", radius), ("fill", fill.hex),
            ])
        }
        svg.close("g")
    }

    private func drawLine(_ line: LineLayer, color: Color, map: Mapping, into svg: inout SVGWriter) {
        let count = min(line.x.count, line.y.count)
        // Split into runs of finite points: a NaN breaks the line rather than corrupting the path.
        var runs: [[(Double, Double)]] = [[]]
        for index in 0..<count {
            let x = line.x[index], y = line.y[index]
            if x.isFinite && y.isFinite {
                runs[runs.count - 1].append((map.x(x), map.y(y)))
            } else if !runs[runs.count - 1].isEmpty {
                runs.append([])
            }
        }
        var attributes: [(String, String)] = [
            ("fill", "none"), ("stroke", color.hex), ("stroke-width", SVGWriter.number(line.width)),
            ("stroke-linejoin", "round"), ("stroke-linecap", "round"),
        ]
        if line.dashed { attributes.append(("stroke-dasharray", "6 4")) }
        for run in runs where run.count > 1 {
            let points = run.map { SVGWriter.number($0.0) + "," + SVGWriter.number($0.1) }.joined(separator: " ")
            svg.empty("polyline", [("class", "line"), ("points", points)] + attributes)
        }
        if line.showsMarkers {
            let radius = SVGWriter.number(line.width + 1.2)
            for (x, y) in runs.joined() {
                svg.empty("circle", [
                    ("class", "point"), ("cx", SVGWriter.number(x)), ("cy", SVGWriter.number(y)),
                    ("r", radius), ("fill", color.hex),
                ])
            }
        }
    }

    private func drawRegions(_ regions: RegionsLayer, map: Mapping, into svg: inout SVGWriter) {
        let xEdges = cellEdges(regions.x), yEdges = cellEdges(regions.y)
        // Neighbouring cells of one class merge into one rectangle only when columns are in order.
        let ascending = zip(regions.x, regions.x.dropFirst()).allSatisfy { $0 < $1 }
        // Opaque blended colours (not opacity) and crisp edges: translucent cells show seams.
        svg.open("g", [("class", "regions"), ("shape-rendering", "crispEdges")])
        for (row, classes) in regions.classes.prefix(regions.y.count).enumerated() {
            let y0 = map.y(yEdges[row]), y1 = map.y(yEdges[row + 1])
            let count = min(classes.count, regions.x.count)
            var column = 0
            while column < count {
                let value = classes[column]
                var end = column + 1
                while ascending && end < count && classes[end] == value { end += 1 }
                let x0 = map.x(xEdges[column]), x1 = map.x(xEdges[end])
                if value >= 0, x0.isFinite, x1.isFinite, y0.isFinite, y1.isFinite {
                    svg.rect(x: min(x0, x1), y: min(y0, y1), width: abs(x1 - x0), height: abs(y1 - y0),
                             fill: palette[value].blended(with: .white, fraction: regions.lightening),
                             className: "region")
                }
                column = end
            }
        }
        svg.close("g")
    }

    private func drawHeatmap(_ heatmap: HeatmapLayer, map: Mapping, into svg: inout SVGWriter) {
        let range = heatmap.resolvedRange
        let span = range.upperBound - range.lowerBound
        svg.open("g", [("class", "heatmap"), ("shape-rendering", "crispEdges")])
        var labels: [(String, Double, Double, Color)] = []
        for (row, values) in heatmap.values.enumerated() {
            let y0 = map.y(Double(row)), y1 = map.y(Double(row + 1))
            for column in 0..<heatmap.columnCount {
                let x0 = map.x(Double(column)), x1 = map.x(Double(column + 1))
                let value = column < values.count ? values[column] : .nan
                let fill = value.isFinite
                    ? heatmap.colormap.color(at: (value - range.lowerBound) / span) : Color.gray
                svg.rect(x: x0, y: min(y0, y1), width: x1 - x0, height: abs(y1 - y0), fill: fill, className: "cell")
                if heatmap.showsValues && value.isFinite {
                    labels.append((formatFixed(value, decimals: 2, trimsZeros: false),
                                   (x0 + x1) / 2, (y0 + y1) / 2, fill.luminance < 0.5 ? .white : .black))
                }
            }
        }
        svg.close("g")
        if !labels.isEmpty {
            let cellHeight = abs(map.y(1) - map.y(0))
            let size = min(10, cellHeight * 0.45)
            for (text, x, y, color) in labels {
                svg.text(text, x: x, y: y + size * 0.35, size: size, anchor: "middle", color: color,
                         className: "cell-value")
            }
        }
    }

    private func drawImage(_ image: ImageLayer, map: Mapping, into svg: inout SVGWriter) {
        let low = image.valueRange.lowerBound
        let span = image.valueRange.upperBound - low
        let background = image.colormap.color(at: 0)
        let x0 = map.x(0), x1 = map.x(Double(image.width))
        svg.open("g", [("class", "image"), ("shape-rendering", "crispEdges")])
        svg.rect(x: min(x0, x1), y: min(map.y(0), map.y(Double(image.height))), width: abs(x1 - x0),
                 height: abs(map.y(Double(image.height)) - map.y(0)), fill: background,
                 className: "image-background")
        for row in 0..<image.height {
            let y0 = map.y(Double(row)), y1 = map.y(Double(row + 1))
            // Runs of equal 8-bit colour become one rectangle; background runs are not drawn.
            var column = 0
            var runStart = 0
            var runHex = ""
            var runColor = background
            func flush(upTo end: Int) {
                if end > runStart && runHex != background.hex {
                    svg.rect(x: map.x(Double(runStart)), y: min(y0, y1),
                             width: map.x(Double(end)) - map.x(Double(runStart)), height: abs(y1 - y0),
                             fill: runColor, className: "pixel")
                }
            }
            while column < image.width {
                let index = row * image.width + column
                let value = index < image.pixels.count ? image.pixels[index] : low
                let color = image.colormap.color(at: value.isFinite && span > 0 ? (value - low) / span : 0)
                let hex = color.hex
                if column == 0 || hex != runHex {
                    flush(upTo: column)
                    runStart = column
                    runHex = hex
                    runColor = color
                }
                column += 1
            }
            flush(upTo: image.width)
        }
        svg.close("g")
    }

    // MARK: Guides

    private func drawAxes(
        xTicks: [AxisTick], yTicks: [AxisTick], rotatesXLabels: Bool, map: Mapping, frame: Rect,
        into svg: inout SVGWriter
    ) {
        let area = map.area
        let size = Metrics.tickFontSize
        let labelTop = area.maxY + Metrics.tickLength + Metrics.tickGap
        svg.open("g", [("class", "axes")])
        for tick in xTicks {
            let x = map.x(tick.value)
            svg.line(x1: x, y1: area.maxY, x2: x, y2: area.maxY + Metrics.tickLength,
                     stroke: Metrics.tickColor, width: 1)
            if rotatesXLabels {
                svg.text(tick.label, x: x + size * 0.35, y: labelTop, size: size, anchor: "end",
                         color: Metrics.tickColor, rotation: -90, className: "tick-label")
            } else {
                svg.text(tick.label, x: x, y: labelTop + size * 0.8, size: size, anchor: "middle",
                         color: Metrics.tickColor, className: "tick-label")
            }
        }
        for tick in yTicks {
            let y = map.y(tick.value)
            svg.line(x1: area.x - Metrics.tickLength, y1: y, x2: area.x, y2: y, stroke: Metrics.tickColor, width: 1)
            svg.text(tick.label, x: area.x - Metrics.tickLength - Metrics.tickGap, y: y + size * 0.35,
                     size: size, anchor: "end", color: Metrics.tickColor, className: "tick-label")
        }
        let labelSize = Metrics.axisLabelFontSize
        if let xLabel {
            svg.text(xLabel, x: area.midX, y: frame.maxY - Metrics.padding - labelSize * 0.2,
                     size: labelSize, anchor: "middle", className: "axis-label")
        }
        if let yLabel {
            svg.text(yLabel, x: frame.x + Metrics.padding + labelSize * 0.85, y: area.midY,
                     size: labelSize, anchor: "middle", rotation: -90, className: "axis-label")
        }
        svg.close("g")
    }

    private func drawLegend(_ entries: [LegendEntry], x: Double, area: Rect, into svg: inout SVGWriter) {
        let rowHeight = Metrics.legendRowHeight
        let size = Metrics.legendFontSize
        let titleHeight = legendTitle == nil ? 0 : rowHeight
        let height = titleHeight + Double(entries.count) * rowHeight
        var y = max(area.y, area.midY - height / 2)
        svg.open("g", [("class", "legend")])
        if let legendTitle {
            svg.text(legendTitle, x: x, y: y + rowHeight / 2 + size * 0.35, size: size, bold: true)
            y += rowHeight
        }
        for entry in entries {
            let centre = y + rowHeight / 2
            switch entry.kind {
            case .point:
                svg.empty("circle", [("cx", SVGWriter.number(x + 8)), ("cy", SVGWriter.number(centre)),
                                     ("r", "4"), ("fill", entry.color.hex)])
            case .line, .lineWithMarker:
                svg.line(x1: x, y1: centre, x2: x + 16, y2: centre, stroke: entry.color, width: 2,
                         extra: entry.dashed ? [("stroke-dasharray", "4 3")] : [])
                if entry.kind == .lineWithMarker {
                    svg.empty("circle", [("cx", SVGWriter.number(x + 8)), ("cy", SVGWriter.number(centre)),
                                         ("r", "3"), ("fill", entry.color.hex)])
                }
            case .square:
                svg.rect(x: x + 2, y: centre - 6, width: 12, height: 12, fill: entry.color)
            }
            svg.text(entry.label, x: x + Metrics.legendMarkerWidth, y: centre + size * 0.35, size: size,
                     className: "legend-label")
            y += rowHeight
        }
        svg.close("g")
    }

    private func drawColorBar(
        _ heatmap: HeatmapLayer, ticks: [AxisTick], x: Double, area: Rect, id: Int, into svg: inout SVGWriter
    ) {
        let range = heatmap.resolvedRange
        let height = min(area.height, 200)
        let top = area.midY - height / 2
        let gradientID = "luz-scale-\(id)"
        svg.open("g", [("class", "color-bar")])
        svg.open("defs")
        svg.open("linearGradient", [("id", gradientID), ("x1", "0"), ("y1", "1"), ("x2", "0"), ("y2", "0")])
        let anchors = heatmap.colormap.anchors
        for (index, color) in anchors.enumerated() {
            let offset = anchors.count > 1 ? Double(index) / Double(anchors.count - 1) : 0
            svg.empty("stop", [("offset", formatFixed(offset, decimals: 4, trimsZeros: true)),
                               ("stop-color", color.hex)])
        }
        svg.close("linearGradient")
        svg.close("defs")
        svg.empty("rect", [
            ("x", SVGWriter.number(x)), ("y", SVGWriter.number(top)),
            ("width", SVGWriter.number(Metrics.colorBarWidth)), ("height", SVGWriter.number(height)),
            ("fill", "url(#\(gradientID))"),
        ])
        let span = range.upperBound - range.lowerBound
        for tick in ticks {
            let y = top + height - (tick.value - range.lowerBound) / span * height
            let right = x + Metrics.colorBarWidth
            svg.line(x1: right - 3, y1: y, x2: right, y2: y, stroke: .white, width: 1)
            svg.text(tick.label, x: right + 4, y: y + Metrics.tickFontSize * 0.35, size: Metrics.tickFontSize,
                     color: Metrics.tickColor, className: "tick-label")
        }
        svg.close("g")
    }
}
