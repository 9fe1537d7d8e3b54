/// im2col and col2im for convolutions with small output planes, through a table of positions.
///
/// With a 7 × 7 output, the row-by-row lowering of ``ConvGeometry/im2col(_:into:)`` spends more
/// on the bookkeeping of each 7-element row (the valid range of every kernel column, the
/// padding checks, the loop set-up) than on copying. Here each group of input planes is first
/// copied into a zero-padded buffer; then every row of the column matrix is a gather through
/// one precomputed table of `kH · kW · OH · OW` positions, the same for every channel and
/// image, with no bounds to check. col2im runs the same table backwards, adding into the padded
/// buffer, whose interior is then added to the destination.
struct SmallPlaneLowering<T: TensorFloat> {
    let geometry: ConvGeometry
    /// The padded plane's width (`W + 2pW`) and size (`(H + 2pH) · (W + 2pW)`).
    let paddedWidth: Int
    let paddedPlane: Int
    /// For kernel tap `t = i · kW + j` and output position `p`, the position read in the
    /// padded plane: `table[t · L + p]`.
    private let table: [Int32]
    /// One padded buffer of all the group's channels per worker; only interiors are written
    /// by ``im2col(_:into:worker:)``, so the borders stay zero.
    private let buffers: Tensor

    /// The lowering of `geometry` for `workers` threads, or `nil` when its output plane is too
    /// large for the table to pay off or the positions do not fit in 32 bits.
    init?(_ geometry: ConvGeometry, workers: Int) {
        let g = geometry
        let l = g.outputPlane
        paddedWidth = g.width + 2 * g.paddingWidth
        paddedPlane = (g.height + 2 * g.paddingHeight) * paddedWidth
        guard g.lowering == .full, l > 0, l <= ConvolutionTuning.maximumTableLoweredPlane,
              g.groupChannels * paddedPlane < Int(Int32.max) else { return nil }
        self.geometry = g
        var table = [Int32](repeating: 0, count: g.kernelHeight * g.kernelWidth * l)
        var t = 0
        for i in 0..<g.kernelHeight {
            for j in 0..<g.kernelWidth {
                for y in 0..<g.outHeight {
                    let row = (y * g.strideHeight + i * g.dilationHeight) * paddedWidth + j * g.dilationWidth
                    for x in 0..<g.outWidth {
                        table[t] = Int32(truncatingIfNeeded: row + x * g.strideWidth)
                        t += 1
                    }
                }
            }
        }
        self.table = table
        buffers = Tensor.zeros([Swift.max(workers * g.groupChannels * paddedPlane, 1)], dtype: T.dtype)
    }

    private func buffer(_ worker: Int) -> UnsafeMutablePointer<T> {
        buffers.pointer(T.self) + worker * geometry.groupChannels * paddedPlane
    }

    /// The column matrix (`columnRows × outputPlane`) of one group's planes at `source`, as
    /// ``ConvGeometry/im2col(_:into:)`` writes it.
    func im2col(_ source: UnsafePointer<T>, into columns: UnsafeMutablePointer<T>, worker: Int) {
        let g = geometry, l = g.outputPlane, taps = g.kernelHeight * g.kernelWidth
        let padded = buffer(worker)
        copyInteriors(from: source, to: padded)
        table.withUnsafeBufferPointer { table in
            let table = table.baseAddress!
            var row = columns
            for c in 0..<g.groupChannels {
                let plane = padded + c * paddedPlane
                var positions = table
                for _ in 0..<taps {
                    for p in 0..<l { row[p] = plane[Int(positions[p])] }
                    positions += l
                    row += l
                }
            }
        }
    }

    /// Adds a column matrix back into the planes at `destination`, as
    /// ``ConvGeometry/col2im(_:into:)`` does.
    func col2im(_ columns: UnsafePointer<T>, into destination: UnsafeMutablePointer<T>, worker: Int) {
        let g = geometry, l = g.outputPlane, taps = g.kernelHeight * g.kernelWidth
        let padded = buffer(worker)
        padded.update(repeating: 0, count: g.groupChannels * paddedPlane)
        table.withUnsafeBufferPointer { table in
            let table = table.baseAddress!
            var row = columns
            for c in 0..<g.groupChannels {
                let plane = padded + c * paddedPlane
                var positions = table
                for _ in 0..<taps {
                    for p in 0..<l { plane[Int(positions[p])] += row[p] }
                    positions += l
                    row += l
                }
            }
        }
        // Add the interiors; what landed in the padding is dropped, and the buffer's borders
        // are zero again for the next im2col.
        let w = g.width
        for c in 0..<g.groupChannels {
            let plane = padded + c * paddedPlane, target = destination + c * g.inputPlane
            for y in 0..<g.height {
                let line = plane + (y + g.paddingHeight) * paddedWidth + g.paddingWidth
                addElements(target + y * w, line, w)
                (plane + (y + g.paddingHeight) * paddedWidth).update(repeating: 0, count: paddedWidth)
            }
            plane.update(repeating: 0, count: g.paddingHeight * paddedWidth)
            (plane + (g.height + g.paddingHeight) * paddedWidth).update(repeating: 0, count: g.paddingHeight * paddedWidth)
        }
    }

    /// Copies the group's planes into the interiors of the padded buffer.
    private func copyInteriors(from source: UnsafePointer<T>, to padded: UnsafeMutablePointer<T>) {
        let g = geometry, w = g.width
        for c in 0..<g.groupChannels {
            let plane = padded + c * paddedPlane, from = source + c * g.inputPlane
            for y in 0..<g.height {
                copyElements(plane + (y + g.paddingHeight) * paddedWidth + g.paddingWidth, from + y * w, w)
            }
        }
    }
}
