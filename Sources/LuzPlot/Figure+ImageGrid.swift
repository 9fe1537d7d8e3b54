extension Figure {
    /// Creates a grid of small images with captions, e.g. test digits with their predicted labels.
    ///
    /// Each image becomes an axis-free panel whose title is its caption; pixels at the low end of
    /// the scale are the tile background and cost no SVG elements, so a page of 28×28 digits
    /// stays a few hundred kilobytes.
    ///
    /// ```swift
    /// let captions = zip(predicted, truth).map { "\($0)" }
    /// let colors = zip(predicted, truth).map { $0 == $1 ? Color.darkGray : Color.red }
    /// try Figure.imageGrid(images, width: 28, height: 28, captions: captions, captionColors: colors)
    ///     .write(to: "predictions.svg")
    /// ```
    /// - Parameters:
    ///   - images: One array of `width * height` pixels per image, row by row.
    ///   - width: The number of pixel columns of every image.
    ///   - height: The number of pixel rows of every image.
    ///   - captions: A caption above each image (e.g. the predicted class); `nil` for none.
    ///   - captionColors: The colour of each caption (e.g. ``Color/red`` when the prediction is
    ///     wrong); missing entries are dark grey.
    ///   - columns: The number of images per row.
    ///   - title: A title over the grid.
    ///   - scale: Screen pixels per image pixel.
    ///   - colormap: The colour scale; ``Colormap/grayscale`` shows white digits on black, like MNIST.
    ///   - valueRange: The pixel values mapped to the ends of the scale; `nil` means `0...255` for
    ///     `UInt8` images and `0...1` for every other type.
    public static func imageGrid<V: PlottableValue>(
        _ images: [[V]], width: Int, height: Int, captions: [String]? = nil, captionColors: [Color]? = nil,
        columns: Int = 8, title: String? = nil, scale: Double = 2, colormap: Colormap = .grayscale,
        valueRange: ClosedRange<Double>? = nil
    ) -> Figure {
        let range = valueRange ?? (V.self == UInt8.self ? 0...255 : 0...1)
        let captionSize = 11.0
        let panels: [Plot] = images.enumerated().map { index, pixels in
            var plot = Plot().image(pixels, width: width, height: height, colormap: colormap, valueRange: range)
            plot.showsAxes = false
            plot.showsLegend = false
            if let captions, index < captions.count {
                plot.title = captions[index]
                plot.titleFontSize = captionSize
            }
            if let captionColors, index < captionColors.count {
                plot.titleColor = captionColors[index]
            }
            return plot
        }
        let scale = scale.isFinite && scale > 0 ? scale : 2
        let captionWidth = (captions ?? []).map { estimatedTextWidth($0, size: captionSize) }.max() ?? 0
        // A panel is the tile plus 8 px padding each side, plus a caption band when there are captions.
        let panelWidth = max(Double(max(width, 1)) * scale, captionWidth) + 16
        let panelHeight = Double(max(height, 1)) * scale + 16 + (captions == nil ? 0 : captionSize + 6)
        return grid(panels: panels, columns: columns, title: title, panelWidth: panelWidth, panelHeight: panelHeight)
    }
}
