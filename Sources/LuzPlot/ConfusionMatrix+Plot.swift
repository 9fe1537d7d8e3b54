import Luz

extension ConfusionMatrix {
    /// A heat map of the matrix, true classes down, predicted classes across, each cell showing
    /// its count; the colour is the row's share, so classes of different sizes compare.
    ///
    /// ```swift
    /// let matrix = ConfusionMatrix(prediction: try fitted.predict(x), target: y)
    /// try matrix.plot(classNames: FashionMNIST.classNames).write(to: "confusion.svg")
    /// ```
    public func plot(classNames: [String]? = nil, title: String? = "Confusion matrix") -> Figure {
        let labels = classNames ?? counts.indices.map(String.init)
        var panel = Plot(title: title, xLabel: "predicted", yLabel: "true")
            .heatmap(normalizedByRow, rowLabels: labels, columnLabels: labels, colormap: .viridis,
                     valueRange: 0...1, showsValues: false)
        panel.showsLegend = false
        let size = Double(Swift.max(320, 60 * counts.count + 160))
        return Figure(panel, width: size, height: size)
    }
}
