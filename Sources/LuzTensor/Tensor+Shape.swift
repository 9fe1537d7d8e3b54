#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Tensor {
    /// A view with a new shape holding the same elements; one dimension may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        let unknown = target.indices.filter { target[$0] == -1 }
        require(unknown.count <= 1, "reshape: more than one -1 in \(describe(newShape))")
        if let u = unknown.first {
            var rest = target
            rest.remove(at: u)
            let known = elementCount(of: rest, op: "reshape")
            require(known > 0 && count % known == 0,
                    "reshape: shape \(describe(shape)) (\(count) elements) cannot become \(describe(newShape))")
            target[u] = count / known
        }
        require(elementCount(of: target, op: "reshape") == count,
                "reshape: shape \(describe(shape)) (\(count) elements) cannot become \(describe(newShape))")
        if target == shape { return self }
        // A view when the strides allow it (always for a contiguous tensor), a copy otherwise,
        // as torch's `reshape`.
        guard let view = viewOfStorage(shaped: target) else { return contiguous().reshaped(target) }
        let inputShape = shape
        return view.recording("reshape", self) { g, _ in [g.reshaped(inputShape)] }
    }

    /// A view of this tensor's storage in `newShape` (same element count), without a graph, or
    /// `nil` when the strides do not allow one; a contiguous tensor's view needs no strides.
    func viewOfStorage(shaped newShape: [Int]) -> Tensor? {
        if isContiguous { return Tensor(storage: storage, shape: newShape, dtype: dtype, offset: offset) }
        guard let viewStrides = stridesOfView(shaped: newShape) else { return nil }
        return Tensor(storage: storage, shape: newShape, dtype: dtype, offset: offset, strides: viewStrides)
    }

    /// The strides under which `newShape` (with this tensor's element count) reads this
    /// tensor's elements in row-major order from the same storage, or `nil` when no strides do
    /// and a copy is needed. Each run of dimensions that lies contiguously in memory (a chunk)
    /// may be regrouped freely; dimensions of size 1 may go anywhere.
    func stridesOfView(shaped newShape: [Int]) -> [Int]? {
        guard let oldStrides = viewStrides, count > 0 else { return Tensor.rowMajorStrides(newShape) }
        var result = [Int](repeating: 0, count: newShape.count)
        var newDim = newShape.count - 1
        var chunkStride = oldStrides[rank - 1]   // the stride of the chunk's innermost dimension
        var chunkCount = 1, viewCount = 1
        for dim in stride(from: rank - 1, through: 0, by: -1) {
            chunkCount *= shape[dim]
            let chunkEnds = dim == 0 || (shape[dim - 1] != 1 && oldStrides[dim - 1] != chunkCount * chunkStride)
            guard chunkEnds else { continue }
            // Give the new dimensions that cover this chunk their strides.
            while newDim >= 0 && (viewCount < chunkCount || newShape[newDim] == 1) {
                result[newDim] = viewCount * chunkStride
                viewCount *= newShape[newDim]
                newDim -= 1
            }
            if viewCount != chunkCount { return nil }
            if dim > 0 {
                chunkStride = oldStrides[dim - 1]
                chunkCount = 1
                viewCount = 1
            }
        }
        return newDim == -1 ? result : nil
    }

    /// A view with the dimensions from `startDim` through `endDim` merged into one.
    public func flattened(from startDim: Int = 0, through endDim: Int = -1) -> Tensor {
        if rank == 0 { return reshaped([1]) }
        let s = normalizedDim(startDim, rank: rank, op: "flatten")
        let e = normalizedDim(endDim, rank: rank, op: "flatten")
        require(s <= e, "flatten: start dimension \(startDim) is after end dimension \(endDim)")
        let merged = shape[s...e].reduce(1, *)
        return reshaped(Array(shape[..<s]) + [merged] + Array(shape[(e + 1)...]))
    }

    /// A view with every dimension of size 1 removed.
    public func squeezed() -> Tensor { reshaped(shape.filter { $0 != 1 }) }

    /// A view with dimension `dim` removed if its size is 1 (unchanged otherwise, as in torch).
    public func squeezed(dim: Int) -> Tensor {
        if rank == 0 { return self }
        let d = normalizedDim(dim, rank: rank, op: "squeeze")
        guard shape[d] == 1 else { return self }
        var s = shape
        s.remove(at: d)
        return reshaped(s)
    }

    /// A view with a dimension of size 1 inserted at `dim` (-1 appends).
    public func unsqueezed(dim: Int) -> Tensor {
        let d = normalizedDim(dim, rank: rank, op: "unsqueeze", allowEnd: true)
        var s = shape
        s.insert(1, at: d)
        return reshaped(s)
    }

    /// The dimensions reordered: dimension `i` of the result is dimension `dims[i]` of this
    /// tensor. A view (no copy), as in torch.
    public func permuted(_ dims: [Int]) -> Tensor {
        require(dims.count == rank, "permute: \(dims) does not list the \(rank) dimensions of \(describe(shape))")
        let order = dims.map { normalizedDim($0, rank: rank, op: "permute") }
        require(Set(order).count == rank, "permute: \(dims) repeats a dimension")
        if order == Array(0..<rank) { return self }
        let current = strides
        let view = Tensor(storage: storage, shape: order.map { shape[$0] }, dtype: dtype, offset: offset,
                          strides: order.map { current[$0] })
        var inverse = [Int](repeating: 0, count: rank)
        for (i, d) in order.enumerated() { inverse[d] = i }
        return view.recording("permute", self) { g, _ in [g.permuted(inverse)] }
    }

    /// Copies a strided source into a contiguous destination of `shape`, innermost loop last.
    static func stridedCopy<T>(from src: UnsafePointer<T>, strides: [Int], to dst: UnsafeMutablePointer<T>,
                               shape: [Int]) {
        let rank = shape.count
        let total = shape.reduce(1, *)
        if total == 0 { return }
        if rank == 0 { dst[0] = src[0]; return }
        if rank == 2 && strides[1] != 1 {
            // A 2-D transpose, in tiles so that both sides stay in cache.
            let rows = shape[0], cols = shape[1], rs = strides[0], cs = strides[1]
            let tile = 32
            parallelChunks((rows + tile - 1) / tile, cost: tile * cols) { blocks in
                for rb in blocks {
                    let r0 = rb * tile
                    var c0 = 0
                    while c0 < cols {
                        for r in r0..<Swift.min(rows, r0 + tile) {
                            for c in c0..<Swift.min(cols, c0 + tile) {
                                dst[r * cols + c] = src[r * rs + c * cs]
                            }
                        }
                        c0 += tile
                    }
                }
            }
            return
        }
        if rank > 2 && strides[rank - 1] != 1 && shape[rank - 1] > 1,
           let unit = (0..<(rank - 1)).last(where: { strides[$0] == 1 && shape[$0] > 1 }) {
            stridedTransposeCopy(from: src, strides: strides, to: dst, shape: shape, unitDim: unit)
            return
        }
        // Dimensions that step through memory as one (a step-2 slice of the last dimension: all
        // of them) make one row, so that short rows do not each pay the loop's overhead.
        let (rowShape, rowStrides) = coalesced(shape: shape, strides: strides)
        let inner = rowShape[rowShape.count - 1]
        let innerStride = rowStrides[rowStrides.count - 1]
        parallelChunks(total / inner, cost: inner) { range in
            forEachStridedRow(shape: rowShape, strides: rowStrides, rows: range) { row, offset in
                let o = dst + row * inner
                let s = src + offset
                if innerStride == 1 {
                    o.update(from: s, count: inner)
                } else {
                    for j in 0..<inner { o[j] = s[j * innerStride] }
                }
            }
        }
    }

    /// `shape` and `strides` with dimensions of size 1 dropped and each dimension merged into the
    /// one after it when together they step through memory as one dimension (the outer stride
    /// is the inner extent times the inner stride), as torch's TensorIterator coalesces: the same
    /// elements in the same row-major order, in fewer and longer rows. The last row grows only
    /// up to ``coalescedRowLimit`` elements, so that there are still rows to spread over
    /// threads. At least one dimension; for a tensor with elements.
    static func coalesced(shape: [Int], strides: [Int]) -> (shape: [Int], strides: [Int]) {
        // Built from the innermost dimension outwards, reversed at the end.
        var merged: [Int] = [], mergedStrides: [Int] = []
        merged.reserveCapacity(shape.count)
        mergedStrides.reserveCapacity(shape.count)
        for d in shape.indices.reversed() where shape[d] != 1 {
            if let inner = merged.last, strides[d] == inner * mergedStrides[mergedStrides.count - 1],
               merged.count > 1 || inner * shape[d] <= coalescedRowLimit {
                merged[merged.count - 1] *= shape[d]
            } else {
                merged.append(shape[d])
                mergedStrides.append(strides[d])
            }
        }
        if merged.isEmpty { return ([1], [1]) }
        return (merged.reversed(), mergedStrides.reversed())
    }

    /// The most elements a row grows to in ``coalesced(shape:strides:)``.
    static let coalescedRowLimit = 16_384

    /// Calls `body(row, offset)` for each row in `rows` of `shape` (a row: all of the last
    /// dimension, rows counted in row-major order), with the offset under `strides` of the row's
    /// first element; the index is carried from row to row, not recomputed.
    @inline(__always)
    static func forEachStridedRow(shape: [Int], strides: [Int], rows: Range<Int>, _ body: (Int, Int) -> Void) {
        let rank = shape.count
        var index = [Int](repeating: 0, count: Swift.max(rank - 1, 1))
        var remainder = rows.lowerBound
        var offset = 0
        for d in stride(from: rank - 2, through: 0, by: -1) {
            index[d] = remainder % shape[d]
            remainder /= shape[d]
            offset += index[d] * strides[d]
        }
        for row in rows {
            body(row, offset)
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                offset += strides[d]
                if index[d] < shape[d] { break }
                offset -= strides[d] * shape[d]
                index[d] = 0
                d -= 1
            }
        }
    }

    /// `stridedCopy` of a permutation that moves the source's unit-stride dimension `unitDim`
    /// away from the end (NCHW read as NHWC, say): for every index of the other dimensions, a
    /// tiled 2-D transpose of the plane (`unitDim`, last), so that reads and writes both run
    /// along cache lines instead of reading one element per line.
    private static func stridedTransposeCopy<T>(from src: UnsafePointer<T>, strides: [Int],
                                                to dst: UnsafeMutablePointer<T>, shape: [Int], unitDim: Int) {
        let rank = shape.count
        let dstStrides = rowMajorStrides(shape)
        let outerDims = (0..<(rank - 1)).filter { $0 != unitDim }
        let planes = outerDims.reduce(1) { $0 * shape[$1] }
        let rows = shape[unitDim], columns = shape[rank - 1]
        let columnStride = strides[rank - 1], rowStride = dstStrides[unitDim]
        let tile = 32
        parallelChunks(planes, cost: rows * columns) { range in
            for plane in range {
                var remainder = plane, srcBase = 0, dstBase = 0
                for d in outerDims.reversed() {
                    let i = remainder % shape[d]
                    remainder /= shape[d]
                    srcBase += i * strides[d]
                    dstBase += i * dstStrides[d]
                }
                // Element (r, c) of the plane: source src[srcBase + r + c·columnStride],
                // destination dst[dstBase + r·rowStride + c].
                var c0 = 0
                while c0 < columns {
                    let c1 = Swift.min(columns, c0 + tile)
                    var r0 = 0
                    while r0 < rows {
                        let r1 = Swift.min(rows, r0 + tile)
                        for c in c0..<c1 {
                            let s = src + srcBase + c * columnStride
                            let o = dst + dstBase + c
                            for r in r0..<r1 { o[r * rowStride] = s[r] }
                        }
                        r0 = r1
                    }
                    c0 = c1
                }
            }
        }
    }

    /// Copies a contiguous source of `shape` into the strided places of a destination (the
    /// inverse of ``stridedCopy(from:strides:to:shape:)``); the places must not overlap.
    static func stridedScatter<T>(from src: UnsafePointer<T>, to dst: UnsafeMutablePointer<T>,
                                  strides: [Int], shape: [Int]) {
        let rank = shape.count
        let total = shape.reduce(1, *)
        if total == 0 { return }
        if rank == 0 { dst[0] = src[0]; return }
        let (rowShape, rowStrides) = coalesced(shape: shape, strides: strides)
        let inner = rowShape[rowShape.count - 1]
        let innerStride = rowStrides[rowStrides.count - 1]
        parallelChunks(total / inner, cost: inner) { range in
            forEachStridedRow(shape: rowShape, strides: rowStrides, rows: range) { row, offset in
                let s = src + row * inner
                let o = dst + offset
                if innerStride == 1 {
                    o.update(from: s, count: inner)
                } else {
                    for j in 0..<inner { o[j * innerStride] = s[j] }
                }
            }
        }
    }

    /// Dimensions `a` and `b` swapped (a view).
    public func transposed(_ a: Int, _ b: Int) -> Tensor {
        var order = Array(0..<rank)
        let i = normalizedDim(a, rank: rank, op: "transpose"), j = normalizedDim(b, rank: rank, op: "transpose")
        order.swapAt(i, j)
        return permuted(order)
    }

    /// The last two dimensions swapped (the matrix transpose; a 1-D tensor is returned as is).
    public func transposed() -> Tensor { rank < 2 ? self : transposed(-2, -1) }

    /// The matrix transpose, written `x.T` as in PyTorch and NumPy.
    public var T: Tensor { transposed() }

    // MARK: - Joining and splitting

    /// Tensors joined along an existing dimension; all other sizes must match.
    public static func cat(_ tensors: [Tensor], dim: Int = 0) -> Tensor {
        require(!tensors.isEmpty, "cat: no tensors given")
        let first = tensors[0]
        let d = normalizedDim(dim, rank: first.rank, op: "cat")
        var type = first.dtype
        for t in tensors { type = promotedType(type, t.dtype) }
        for (k, t) in tensors.enumerated() {
            require(t.rank == first.rank,
                    "cat: tensor \(k) has shape \(describe(t.shape)), tensor 0 has \(describe(first.shape))")
            for i in 0..<first.rank where i != d {
                require(t.shape[i] == first.shape[i],
                        "cat: tensor \(k) has shape \(describe(t.shape)), tensor 0 has \(describe(first.shape)): dimension \(i) differs")
            }
        }
        var outShape = first.shape
        outShape[d] = tensors.reduce(0) { $0 + $1.shape[d] }
        let out = Tensor.empty(outShape, dtype: type)
        let (outer, total, inner) = out.splitShape(at: d)
        let elementSize = type.byteCount
        var start = 0
        var sizes: [Int] = []
        for t in tensors {
            let src = t.dtype == type ? t : withNoGrad { t.to(type) }
            let n = t.shape[d]
            sizes.append(n)
            let rowBytes = n * inner * elementSize
            let srcBase = UnsafeRawPointer(src.elementBytes)
            let dstBase = out.storage.raw
            if rowBytes > 0 {
                for o in 0..<outer {
                    memcpy(dstBase + (o * total + start) * inner * elementSize,
                           srcBase + o * rowBytes, rowBytes)
                }
            }
            start += n
        }
        return out.recording("cat", tensors) { g, need in
            var offsets = 0
            return sizes.enumerated().map { i, n in
                defer { offsets += n }
                return need[i] ? g.narrowed(dim: d, start: offsets, length: n) : nil
            }
        }
    }

    /// Tensors of equal shape stacked along a new dimension (one node in the graph, however
    /// many tensors: models that stack per-feature columns do it every step).
    public static func stack(_ tensors: [Tensor], dim: Int = 0) -> Tensor {
        require(!tensors.isEmpty, "stack: no tensors given")
        let first = tensors[0]
        var type = first.dtype
        for (k, t) in tensors.enumerated() {
            require(t.shape == first.shape,
                    "stack: tensor \(k) has shape \(describe(t.shape)), tensor 0 has \(describe(first.shape))")
            type = promotedType(type, t.dtype)
        }
        let d = normalizedDim(dim, rank: first.rank, op: "stack", allowEnd: true)
        var outShape = first.shape
        outShape.insert(tensors.count, at: d)
        let out = Tensor.empty(outShape, dtype: type)
        let outer = first.shape[..<d].reduce(1, *)
        let inner = first.count / Swift.max(outer, 1)
        let n = tensors.count
        let elementSize = type.byteCount
        let blockBytes = inner * elementSize
        if blockBytes > 0 {
            for (k, t) in tensors.enumerated() {
                let src = t.dtype == type ? t : withNoGrad { t.to(type) }
                let base = UnsafeRawPointer(src.elementBytes)
                if inner == 1 {
                    // Stacking scalars or columns: a strided scatter, element by element.
                    switch elementSize {
                    case 4:
                        let s = base.assumingMemoryBound(to: UInt32.self)
                        let o = out.storage.raw.assumingMemoryBound(to: UInt32.self)
                        for i in 0..<outer { o[i * n + k] = s[i] }
                    case 8:
                        let s = base.assumingMemoryBound(to: UInt64.self)
                        let o = out.storage.raw.assumingMemoryBound(to: UInt64.self)
                        for i in 0..<outer { o[i * n + k] = s[i] }
                    default:
                        for i in 0..<outer { memcpy(out.storage.raw + (i * n + k), base + i, 1) }
                    }
                } else {
                    for i in 0..<outer {
                        memcpy(out.storage.raw + (i * n + k) * blockBytes, base + i * blockBytes, blockBytes)
                    }
                }
            }
        }
        return out.recording("stack", tensors) { g, need in
            (0..<n).map { k in need[k] ? g.selected(dim: d, index: k) : nil }
        }
    }

    /// Pieces of the given sizes along `dim`.
    public func split(sizes: [Int], dim: Int = 0) -> [Tensor] {
        let d = normalizedDim(dim, rank: rank, op: "split")
        require(sizes.reduce(0, +) == shape[d],
                "split: sizes \(sizes) do not add up to dimension \(dim) of \(describe(shape))")
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return narrowed(dim: d, start: start, length: n)
        }
    }

    /// Pieces of `size` along `dim` (the last one smaller if it does not divide evenly).
    public func split(size: Int, dim: Int = 0) -> [Tensor] {
        require(size > 0, "split: size must be positive, got \(size)")
        let d = normalizedDim(dim, rank: rank, op: "split")
        let n = shape[d]
        var sizes: [Int] = []
        var start = 0
        while start < n { sizes.append(Swift.min(size, n - start)); start += size }
        return split(sizes: sizes, dim: d)
    }

    /// `chunks` pieces along `dim` of size ⌈n / chunks⌉ (fewer if that covers it, as in torch).
    public func chunked(_ chunks: Int, dim: Int = 0) -> [Tensor] {
        require(chunks > 0, "chunk: the number of chunks must be positive, got \(chunks)")
        let d = normalizedDim(dim, rank: rank, op: "chunk")
        return split(size: Swift.max(1, (shape[d] + chunks - 1) / chunks), dim: d)
    }

    /// The elements reversed along `dims`.
    public func flipped(_ dims: [Int]) -> Tensor {
        var result = self.detached()
        for dim in Set(dims.map { normalizedDim($0, rank: rank, op: "flip") }) {
            let (outer, n, inner) = result.splitShape(at: dim)
            let out = Tensor.empty(shape, dtype: dtype)
            let size = dtype.byteCount * inner
            let src = UnsafeRawPointer(result.elementBytes)
            for o in 0..<outer {
                for i in 0..<n {
                    memcpy(out.storage.raw + ((o * n + (n - 1 - i)) * size), src + (o * n + i) * size, size)
                }
            }
            result = out
        }
        return result.recording("flip", self) { g, _ in [g.flipped(dims)] }
    }

    /// `length` elements along `dim` starting at `start` (torch's `narrow`).
    public func narrowed(dim: Int, start: Int, length: Int) -> Tensor {
        sliced(dim: dim, start: start, end: start + length)
    }

    /// The elements `start..<end` (every `step`-th) along `dim`, as a view of the same storage.
    /// Negative bounds count from the end; bounds are clamped to the dimension, as in Python
    /// slicing.
    public func sliced(dim: Int, start: Int = 0, end: Int? = nil, step: Int = 1) -> Tensor {
        let d = normalizedDim(dim, rank: rank, op: "slice")
        require(step > 0, "slice: step must be positive, got \(step)")
        let n = shape[d]
        func clamp(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + n : v, 0), n) }
        let lo = clamp(start)
        let hi = Swift.max(lo, clamp(end ?? n))
        let length = (hi - lo + step - 1) / step
        if lo == 0 && hi == n && step == 1 { return self }
        var outShape = shape
        outShape[d] = length
        var viewStrides = strides
        let start = offset + lo * viewStrides[d]
        viewStrides[d] *= step
        let view = Tensor(storage: storage, shape: outShape, dtype: dtype, offset: start, strides: viewStrides)
        return view.recording("slice", self) { [shape] g, _ in
            [Tensor.sliceBackward(g, inputShape: shape, dim: d, start: lo, step: step)]
        }
    }

    /// Zeros of `inputShape` with `g` written into the sliced positions (through a strided view
    /// of the zeros).
    static func sliceBackward(_ g: Tensor, inputShape: [Int], dim: Int, start: Int, step: Int) -> Tensor {
        let result = Tensor.zeros(inputShape, dtype: g.dtype)
        let length = g.shape[dim]
        guard length > 0 else { return result }
        withNoGrad { result.sliced(dim: dim, start: start, end: start + (length - 1) * step + 1, step: step).copy(from: g) }
        return result
    }

    /// The sub-tensor at `index` along `dim`, with that dimension removed.
    public func selected(dim: Int, index: Int) -> Tensor {
        let d = normalizedDim(dim, rank: rank, op: "select")
        let n = shape[d]
        require(index >= -n && index < n,
                "select: index \(index) is out of range for dimension \(dim) of size \(n) (shape \(describe(shape)))")
        let i = index < 0 ? index + n : index
        return narrowed(dim: d, start: i, length: 1).squeezed(dim: d)
    }
}
