// Pooling works plane by plane: every leading dimension (batch, channels) is a run of
// independent `height × width` planes, so batched and unbatched inputs, and 1-D pooling as
// planes of height 1, share one kernel. Planes are split across the cores.

/// The sizes of one pooling over `planes` planes of `height × width`.
struct PoolGeometry {
    var planes: Int
    var height: Int
    var width: Int
    var kernelHeight: Int
    var kernelWidth: Int
    var strideHeight: Int
    var strideWidth: Int
    var paddingHeight: Int
    var paddingWidth: Int
    var dilationHeight: Int = 1
    var dilationWidth: Int = 1
    /// Round the number of windows up rather than down (torch's `ceil_mode`).
    var ceilMode = false

    var outHeight: Int {
        PoolGeometry.pooledSize(height, kernel: kernelHeight, stride: strideHeight, padding: paddingHeight,
                   dilation: dilationHeight, ceilMode: ceilMode)
    }
    var outWidth: Int {
        PoolGeometry.pooledSize(width, kernel: kernelWidth, stride: strideWidth, padding: paddingWidth,
                   dilation: dilationWidth, ceilMode: ceilMode)
    }
    var inputPlane: Int { height * width }
    var outputPlane: Int { outHeight * outWidth }

    /// The number of windows along a dimension: torch's floor rule (``outputSize(_:kernel:stride:padding:dilation:)``),
    /// or with `ceilMode` `⌈(size + 2p − d(k − 1) − 1) / s⌉ + 1`, less one when the last window
    /// would start in the right padding or beyond (torch's rule: every window starts inside
    /// the input or the left padding). A window that runs past the padded input covers only
    /// its part inside.
    static func pooledSize(_ size: Int, kernel: Int, stride: Int, padding: Int, dilation: Int,
                           ceilMode: Bool) -> Int {
        guard ceilMode else { return outputSize(size, kernel: kernel, stride: stride, padding: padding, dilation: dilation) }
        let span = size + 2 * padding - dilation * (kernel - 1) - 1
        guard span >= 0, stride > 0 else { return 0 }
        var count = (span + stride - 1) / stride + 1
        if (count - 1) * stride >= size + padding { count -= 1 }
        return count
    }

    /// The taps `lo..<hi` of a window starting at `start` (in input coordinates, possibly in the
    /// padding) that land inside `0..<size`.
    @inline(__always)
    static func validTaps(start: Int, kernel: Int, dilation: Int, size: Int) -> Range<Int> {
        let lo = start >= 0 ? 0 : (-start + dilation - 1) / dilation
        let room = size - start
        let hi = room <= 0 ? 0 : Swift.min(kernel, (room + dilation - 1) / dilation)
        return lo < hi ? lo..<hi : lo..<lo
    }

    /// The windows of every output row and column, computed once per call rather than per
    /// window (the divisions would cost more than a 2×2 window's comparisons): for output row
    /// `y`, `table[2y]` is the first input row inside the input and `table[2y + 1]` how many
    /// taps are inside; output column `x` follows at `2 · outHeight + 2x`.
    func windowTable() -> [Int] {
        var table: [Int] = []
        table.reserveCapacity(2 * (outHeight + outWidth))
        for y in 0..<outHeight {
            let top = y * strideHeight - paddingHeight
            let taps = PoolGeometry.validTaps(start: top, kernel: kernelHeight, dilation: dilationHeight, size: height)
            table += [top + taps.lowerBound * dilationHeight, taps.count]
        }
        for x in 0..<outWidth {
            let left = x * strideWidth - paddingWidth
            let taps = PoolGeometry.validTaps(start: left, kernel: kernelWidth, dilation: dilationWidth, size: width)
            table += [left + taps.lowerBound * dilationWidth, taps.count]
        }
        return table
    }

    /// The output columns `low..<high` whose windows are not clipped by the padding.
    func unclippedColumns() -> (low: Int, high: Int) {
        let span = dilationWidth * (kernelWidth - 1)
        var low = 0
        while low < outWidth && low * strideWidth - paddingWidth < 0 { low += 1 }
        var high = low
        while high < outWidth && high * strideWidth - paddingWidth + span < width { high += 1 }
        return (low, high)
    }

    /// The maxima of four neighbouring windows whose columns are all inside the input, and
    /// their flat positions, compared lane by lane.
    ///
    /// A scalar loop branches on every comparison, and on real data the outcome is a coin toss
    /// that the predictor keeps losing (LLVM turns selects back into branches inside loops);
    /// SIMD lanes select without branching, four windows at a time.
    @inline(__always)
    func maxOfFourWindows(_ source: UnsafePointer<Float>, firstRow: Int, rowTaps: Int, firstColumn: Int)
        -> (SIMD4<Float>, SIMD4<Int32>) {
        let sw = strideWidth
        let laneOffsets = SIMD4<Int32>(0, 1, 2, 3) &* Int32(truncatingIfNeeded: sw)
        // Every lane starts at its window's first tap with −∞: a window of −∞ (or one whose
        // maximum is −∞) reports its first element, as torch does, and gets the gradient there.
        var best = SIMD4<Float>(repeating: -.infinity)
        var bestIndex = SIMD4<Int32>(repeating: Int32(truncatingIfNeeded: firstRow &* width &+ firstColumn)) &+ laneOffsets
        let raw = UnsafeRawPointer(source)
        for i in 0..<rowTaps {
            let line = (firstRow &+ i &* dilationHeight) &* width &+ firstColumn
            for j in 0..<kernelWidth {
                let p = line &+ j &* dilationWidth
                let v: SIMD4<Float>
                if sw == 1 {
                    v = raw.loadUnaligned(fromByteOffset: p &* 4, as: SIMD4<Float>.self)
                } else if sw == 2 && p &+ 8 <= inputPlane {
                    v = raw.loadUnaligned(fromByteOffset: p &* 4, as: SIMD8<Float>.self).evenHalf
                } else {
                    v = SIMD4(source[p], source[p &+ sw], source[p &+ 2 &* sw], source[p &+ 3 &* sw])
                }
                let better = (v .> best) .| (v .!= v)
                best.replace(with: v, where: better)
                bestIndex.replace(with: SIMD4(repeating: Int32(truncatingIfNeeded: p)) &+ laneOffsets, where: better)
            }
        }
        return (best, bestIndex)
    }

    /// Checks the arguments the way torch does and names the op and shapes on failure.
    func check(_ op: String, inputShape: [Int], kernel: String, stride: String, padding: String) {
        require(kernelHeight > 0 && kernelWidth > 0, "\(op): kernel size must be positive, got \(kernel)")
        require(strideHeight > 0 && strideWidth > 0, "\(op): stride must be positive, got \(stride)")
        require(dilationHeight > 0 && dilationWidth > 0, "\(op): dilation must be positive")
        require(paddingHeight >= 0 && paddingWidth >= 0, "\(op): padding must not be negative, got \(padding)")
        // A window centred on the border must still see the input: torch refuses more padding.
        require(paddingHeight <= kernelHeight / 2 && paddingWidth <= kernelWidth / 2,
                "\(op): padding \(padding) should be at most half of the kernel size \(kernel)")
        require(outHeight > 0 && outWidth > 0,
                "\(op): input \(describe(inputShape)) is too small for kernel \(kernel) with padding \(padding) (output size \(outHeight) × \(outWidth))")
    }
}

extension Tensor {
    /// Max pooling over the last two dimensions of an `[N, C, H, W]` or `[C, H, W]` tensor
    /// (torch's `max_pool2d`): each output is the largest input in its window, padding counting
    /// as −∞. The output size is `⌊(H + 2p − d(k − 1) − 1) / s⌋ + 1` per dimension (torch's
    /// floor mode).
    ///
    /// The gradient goes to the first maximum of each window, as in torch; in a window of −∞
    /// that is its first element.
    ///
    /// - Parameters:
    ///   - kernelSize: the window size.
    ///   - stride: the step between windows; `nil` means `kernelSize` (torch's default, so
    ///     windows tile the input).
    ///   - padding: implicit −∞ added on both sides; at most half the kernel size, as torch.
    ///   - dilation: the spacing between window taps (1).
    ///   - ceilMode: count windows rounding up, so that the last, partial window of a
    ///     dimension the stride does not divide is kept (torch's `ceil_mode`, `false`). A
    ///     window never starts in the right padding.
    public func maxPool2d(kernelSize: Size2D, stride: Size2D? = nil, padding: Size2D = 0,
                          dilation: Size2D = 1, ceilMode: Bool = false) -> Tensor {
        maxPool2dWithIndices(kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation,
                             ceilMode: ceilMode).values
    }

    /// Max pooling as ``maxPool2d(kernelSize:stride:padding:dilation:ceilMode:)``, also returning where
    /// each maximum came from: `indices` (int64, the output's shape) holds the flat position
    /// `h · W + w` of the maximum inside its input plane, as torch's `return_indices=True`.
    public func maxPool2dWithIndices(kernelSize: Size2D, stride: Size2D? = nil, padding: Size2D = 0,
                                     dilation: Size2D = 1, ceilMode: Bool = false) -> (values: Tensor, indices: Tensor) {
        require(rank == 3 || rank == 4, "maxPool2d: input \(describe(shape)) should be [N, C, H, W] or [C, H, W]")
        let stride = stride ?? kernelSize
        let geometry = PoolGeometry(
            planes: shape[0..<(rank - 2)].reduce(1, *), height: shape[rank - 2], width: shape[rank - 1],
            kernelHeight: kernelSize.height, kernelWidth: kernelSize.width,
            strideHeight: stride.height, strideWidth: stride.width,
            paddingHeight: padding.height, paddingWidth: padding.width,
            dilationHeight: dilation.height, dilationWidth: dilation.width, ceilMode: ceilMode)
        geometry.check("maxPool2d", inputShape: shape, kernel: "\(kernelSize)", stride: "\(stride)",
                       padding: "\(padding)")
        return maxPool("maxPool2d", geometry,
                       outShape: Array(shape.dropLast(2)) + [geometry.outHeight, geometry.outWidth])
    }

    /// Max pooling over the last dimension of an `[N, C, L]` or `[C, L]` tensor (torch's
    /// `max_pool1d`), as ``maxPool2d(kernelSize:stride:padding:dilation:ceilMode:)`` on rows.
    ///
    /// - Parameters:
    ///   - kernelSize: the window length.
    ///   - stride: the step between windows; `nil` means `kernelSize` (torch's default).
    ///   - padding: implicit −∞ added at both ends; at most half the kernel size.
    ///   - ceilMode: keep the last, partial window (torch's `ceil_mode`, `false`).
    public func maxPool1d(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) -> Tensor {
        require(rank == 2 || rank == 3, "maxPool1d: input \(describe(shape)) should be [N, C, L] or [C, L]")
        let stride = stride ?? kernelSize
        let geometry = PoolGeometry(
            planes: shape.dropLast().reduce(1, *), height: 1, width: shape[rank - 1],
            kernelHeight: 1, kernelWidth: kernelSize, strideHeight: 1, strideWidth: stride,
            paddingHeight: 0, paddingWidth: padding, ceilMode: ceilMode)
        geometry.check("maxPool1d", inputShape: shape, kernel: "\(kernelSize)", stride: "\(stride)",
                       padding: "\(padding)")
        return maxPool("maxPool1d", geometry, outShape: Array(shape.dropLast()) + [geometry.outWidth]).values
    }

    private func maxPool(_ op: String, _ g: PoolGeometry, outShape: [Int]) -> (values: Tensor, indices: Tensor) {
        require(dtype.isFloatingPoint, "\(op): needs a floating-point input, got \(dtype)")
        let values = Tensor.empty(outShape, dtype: dtype)
        let indices = Tensor.empty(outShape, dtype: .int64)
        let table = g.windowTable()
        // Output columns whose windows lie wholly inside the input, where four windows are
        // compared at once in SIMD lanes.
        let (fullLow, fullHigh) = g.unclippedColumns()
        // Positions travel in Int32 lanes.
        let lanesFit = g.inputPlane < Int(Int32.max)
        func forward<T: TensorFloat>(_: T.Type) {
            let x = pointer(T.self), y = values.pointer(T.self), index = indices.pointer(Int64.self)
            let taps = g.kernelHeight * g.kernelWidth
            let width = g.width, dh = g.dilationHeight, dw = g.dilationWidth
            let oh = g.outHeight, ow = g.outWidth
            table.withUnsafeBufferPointer { table in
                let rows = table.baseAddress!, columns = rows + 2 * oh
                parallelChunks(g.planes, cost: g.outputPlane * taps) { planes in
                    for plane in planes {
                        let src = x + plane * g.inputPlane
                        let dst = y + plane * g.outputPlane, at = index + plane * g.outputPlane
                        for oy in 0..<oh {
                            let firstRow = rows[2 &* oy], rowTaps = rows[2 &* oy &+ 1]
                            let o = oy &* ow
                            var ox = 0
                            while ox < ow {
                                if T.self == Float.self && lanesFit && ox >= fullLow && ox &+ 4 <= fullHigh {
                                    let (best, bestIndex) = g.maxOfFourWindows(
                                        UnsafeRawPointer(src).assumingMemoryBound(to: Float.self),
                                        firstRow: firstRow, rowTaps: rowTaps, firstColumn: columns[2 &* ox])
                                    UnsafeMutableRawPointer(dst + (o &+ ox))
                                        .storeBytes(of: best, as: SIMD4<Float>.self)
                                    for lane in 0..<4 { at[o &+ ox &+ lane] = Int64(bestIndex[lane]) }
                                    ox &+= 4
                                    continue
                                }
                                let firstColumn = columns[2 &* ox], columnTaps = columns[2 &* ox &+ 1]
                                // Start at the first tap (torch): a window of −∞ reports its first element.
                                var best = -T.infinity
                                var bestIndex = rowTaps > 0 && columnTaps > 0 ? firstRow &* width &+ firstColumn : -1
                                for i in 0..<rowTaps {
                                    let line = (firstRow &+ i &* dh) &* width &+ firstColumn
                                    for j in 0..<columnTaps {
                                        let position = line &+ j &* dw
                                        let v = src[position]
                                        // `>` keeps the first of equal maxima; NaN wins, as in torch.
                                        if v > best || v.isNaN {
                                            best = v
                                            bestIndex = position
                                        }
                                    }
                                }
                                dst[o &+ ox] = best
                                at[o &+ ox] = Int64(bestIndex)
                                ox &+= 1
                            }
                        }
                    }
                }
            }
        }
        withFloatType(dtype, op, float: { forward(Float.self) }, double: { forward(Double.self) })
        let inputShape = shape, inputType = dtype
        values.recording(op, self, saving: [indices]) { gradient, _ in
            let gradOutput = gradient.dtype == inputType ? gradient : gradient.to(inputType)
            let gradInput = Tensor.zeros(inputShape, dtype: inputType)
            func backward<T: TensorFloat>(_: T.Type) {
                let gy = gradOutput.pointer(T.self), gx = gradInput.pointer(T.self)
                let index = indices.pointer(Int64.self)
                parallelChunks(g.planes, cost: g.outputPlane) { planes in
                    for plane in planes {
                        let dst = gx + plane * g.inputPlane
                        let base = plane * g.outputPlane
                        for o in base..<(base + g.outputPlane) where index[o] >= 0 {
                            dst[Int(index[o])] += gy[o]
                        }
                    }
                }
            }
            withFloatType(inputType, op, float: { backward(Float.self) }, double: { backward(Double.self) })
            return [gradInput]
        }
        return (values, indices)
    }

    /// Average pooling over the last two dimensions of an `[N, C, H, W]` or `[C, H, W]` tensor
    /// (torch's `avg_pool2d`): each output is the mean of its window.
    ///
    /// - Parameters:
    ///   - kernelSize: the window size.
    ///   - stride: the step between windows; `nil` means `kernelSize` (torch's default).
    ///   - padding: zeros added on both sides; at most half the kernel size, as torch.
    ///   - countIncludePad: divide by the whole window (`kH · kW`, padding included) rather than
    ///     by the number of input elements it covers. `true`, as torch.
    ///   - ceilMode: keep the last, partial window of a dimension the stride does not divide
    ///     (torch's `ceil_mode`, `false`); such a window divides by its part inside the padded
    ///     input, as torch.
    public func avgPool2d(kernelSize: Size2D, stride: Size2D? = nil, padding: Size2D = 0,
                          countIncludePad: Bool = true, ceilMode: Bool = false) -> Tensor {
        require(rank == 3 || rank == 4, "avgPool2d: input \(describe(shape)) should be [N, C, H, W] or [C, H, W]")
        require(dtype.isFloatingPoint, "avgPool2d: needs a floating-point input, got \(dtype)")
        let stride = stride ?? kernelSize
        let g = PoolGeometry(
            planes: shape[0..<(rank - 2)].reduce(1, *), height: shape[rank - 2], width: shape[rank - 1],
            kernelHeight: kernelSize.height, kernelWidth: kernelSize.width,
            strideHeight: stride.height, strideWidth: stride.width,
            paddingHeight: padding.height, paddingWidth: padding.width, ceilMode: ceilMode)
        g.check("avgPool2d", inputShape: shape, kernel: "\(kernelSize)", stride: "\(stride)", padding: "\(padding)")
        let outShape = Array(shape.dropLast(2)) + [g.outHeight, g.outWidth]
        let out = Tensor.empty(outShape, dtype: dtype)
        let table = g.windowTable()
        let area = g.kernelHeight * g.kernelWidth
        /// Calls `body(output position, first input row, rows, first input column, columns,
        /// 1 / divisor)` for every output position of a plane.
        @inline(__always)
        func forEachWindow<T: TensorFloat>(
            _: T.Type, _ table: UnsafePointer<Int>, _ body: (Int, Int, Int, Int, Int, T) -> Void
        ) {
            let rows = table, columns = table + 2 * g.outHeight
            var o = 0
            for oy in 0..<g.outHeight {
                let firstRow = rows[2 &* oy], rowTaps = rows[2 &* oy &+ 1]
                let top = oy &* g.strideHeight &- g.paddingHeight
                let paddedRows = Swift.min(top &+ g.kernelHeight, g.height &+ g.paddingHeight) &- top
                for ox in 0..<g.outWidth {
                    let firstColumn = columns[2 &* ox], columnTaps = columns[2 &* ox &+ 1]
                    // Counting the padding divides by the window's part inside the padded
                    // input: the whole kernel area, except for the last windows in ceil mode.
                    let left = ox &* g.strideWidth &- g.paddingWidth
                    let paddedColumns = Swift.min(left &+ g.kernelWidth, g.width &+ g.paddingWidth) &- left
                    let divisor = countIncludePad ? paddedRows &* paddedColumns : rowTaps * columnTaps
                    body(o, firstRow, rowTaps, firstColumn, columnTaps, divisor > 0 ? 1 / T(divisor) : 0)
                    o &+= 1
                }
            }
        }
        func forward<T: TensorFloat>(_: T.Type) {
            let x = pointer(T.self), y = out.pointer(T.self)
            table.withUnsafeBufferPointer { table in
                let table = table.baseAddress!
                parallelChunks(g.planes, cost: g.outputPlane * area) { planes in
                    for plane in planes {
                        let src = x + plane * g.inputPlane, dst = y + plane * g.outputPlane
                        forEachWindow(T.self, table) { o, top, rows, left, columns, scale in
                            var sum = T.zero
                            for i in 0..<rows {
                                let line = src + ((top &+ i) &* g.width &+ left)
                                for j in 0..<columns { sum += line[j] }
                            }
                            dst[o] = sum * scale
                        }
                    }
                }
            }
        }
        withFloatType(dtype, "avgPool2d", float: { forward(Float.self) }, double: { forward(Double.self) })
        let inputShape = shape
        return out.recording("avgPool2d", self) { gradient, _ in
            let gradInput = Tensor.zeros(inputShape, dtype: gradient.dtype)
            func backward<T: TensorFloat>(_: T.Type) {
                let gy = gradient.pointer(T.self), gx = gradInput.pointer(T.self)
                table.withUnsafeBufferPointer { table in
                    let table = table.baseAddress!
                    parallelChunks(g.planes, cost: g.outputPlane * area) { planes in
                        for plane in planes {
                            let src = gy + plane * g.outputPlane, dst = gx + plane * g.inputPlane
                            forEachWindow(T.self, table) { o, top, rows, left, columns, scale in
                                let share = src[o] * scale
                                for i in 0..<rows {
                                    let line = dst + ((top &+ i) &* g.width &+ left)
                                    for j in 0..<columns { line[j] += share }
                                }
                            }
                        }
                    }
                }
            }
            withFloatType(gradient.dtype, "avgPool2d", float: { backward(Float.self) }, double: { backward(Double.self) })
            return [gradInput]
        }
    }

    /// Average pooling to a fixed output size, whatever the input size (torch's
    /// `adaptive_avg_pool2d`): output row `i` of `OH` averages input rows
    /// `⌊i · H / OH⌋ ..< ⌈(i + 1) · H / OH⌉`, and columns likewise, so windows may differ in size
    /// and overlap when `OH` does not divide `H`.
    ///
    /// - Parameter outputSize: the output height and width (`1` gives global average pooling).
    public func adaptiveAvgPool2d(outputSize: Size2D) -> Tensor {
        require(rank == 3 || rank == 4,
                "adaptiveAvgPool2d: input \(describe(shape)) should be [N, C, H, W] or [C, H, W]")
        require(dtype.isFloatingPoint, "adaptiveAvgPool2d: needs a floating-point input, got \(dtype)")
        require(outputSize.height > 0 && outputSize.width > 0,
                "adaptiveAvgPool2d: output size \(outputSize) must be positive")
        let height = shape[rank - 2], width = shape[rank - 1]
        require(height > 0 && width > 0, "adaptiveAvgPool2d: input \(describe(shape)) has an empty plane")
        let oh = outputSize.height, ow = outputSize.width
        let planes = shape[0..<(rank - 2)].reduce(1, *)
        let inputPlane = height * width, outputPlane = oh * ow
        // Window bounds per output row and column, computed once.
        let rowStarts = (0..<oh).map { $0 * height / oh }
        let rowEnds = (0..<oh).map { (($0 + 1) * height + oh - 1) / oh }
        let columnStarts = (0..<ow).map { $0 * width / ow }
        let columnEnds = (0..<ow).map { (($0 + 1) * width + ow - 1) / ow }
        let out = Tensor.empty(Array(shape.dropLast(2)) + [oh, ow], dtype: dtype)
        let cost = Swift.max(inputPlane, outputPlane)
        func forward<T: TensorFloat>(_: T.Type) {
            let x = pointer(T.self), y = out.pointer(T.self)
            parallelChunks(planes, cost: cost) { range in
                for plane in range {
                    let src = x + plane * inputPlane, dst = y + plane * outputPlane
                    for i in 0..<oh {
                        for j in 0..<ow {
                            var sum = T.zero
                            for r in rowStarts[i]..<rowEnds[i] {
                                let line = src + r * width
                                for c in columnStarts[j]..<columnEnds[j] { sum += line[c] }
                            }
                            let area = (rowEnds[i] - rowStarts[i]) * (columnEnds[j] - columnStarts[j])
                            dst[i * ow + j] = sum / T(area)
                        }
                    }
                }
            }
        }
        withFloatType(dtype, "adaptiveAvgPool2d", float: { forward(Float.self) }, double: { forward(Double.self) })
        let inputShape = shape
        return out.recording("adaptiveAvgPool2d", self) { gradient, _ in
            let gradInput = Tensor.zeros(inputShape, dtype: gradient.dtype)
            func backward<T: TensorFloat>(_: T.Type) {
                let gy = gradient.pointer(T.self), gx = gradInput.pointer(T.self)
                parallelChunks(planes, cost: cost) { range in
                    for plane in range {
                        let src = gy + plane * outputPlane, dst = gx + plane * inputPlane
                        for i in 0..<oh {
                            for j in 0..<ow {
                                let area = (rowEnds[i] - rowStarts[i]) * (columnEnds[j] - columnStarts[j])
                                let share = src[i * ow + j] / T(area)
                                for r in rowStarts[i]..<rowEnds[i] {
                                    let line = dst + r * width
                                    for c in columnStarts[j]..<columnEnds[j] { line[c] += share }
                                }
                            }
                        }
                    }
                }
            }
            withFloatType(gradient.dtype, "adaptiveAvgPool2d",
                          float: { backward(Float.self) }, double: { backward(Double.self) })
            return [gradInput]
        }
    }
}
