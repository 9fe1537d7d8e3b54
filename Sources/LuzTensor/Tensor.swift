#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An n-dimensional array of numbers that records the operations applied to it, so that
/// gradients can be computed by reverse-mode automatic differentiation.
///
/// `Tensor` is a reference type: a parameter keeps its identity while an optimizer updates its
/// values in place, and caches or optimizers can hold it. A tensor is a view of a storage: an
/// offset and a stride per dimension, with torch's semantics. Operations that only rearrange
/// elements (``reshaped(_:)`` where the strides allow it, ``permuted(_:)``, ``transposed(_:_:)``,
/// ``expanded(to:)``, ``sliced(dim:start:end:step:)``, ``selected(dim:index:)``,
/// ``squeezed(dim:)``, ``unsqueezed(dim:)``) return views that share the storage; the
/// others produce new, contiguous storage. In-place operations on a view write through to the
/// storage, so every view of it sees them (``isContiguous``, ``strides``, ``contiguous()``).
///
/// Kernels read a strided view either directly (``matmul(_:transposingSelf:transposingOther:)``
/// passes a transposed view to GEMM as a transpose flag) or through a contiguous copy made on
/// the view's first read and kept until the storage is written (torch's `.contiguous()` inside
/// its kernels).
///
/// Element types follow the Swift type a tensor is made from (`[Float]` gives `float32`,
/// `[Double]` gives `float64`), and every creation function defaults to `float32` as in
/// PyTorch. Binary operations promote mixed types (`bool < int64 < float32 < float64`); Swift
/// scalars on either side take the tensor's type.
public final class Tensor {
    /// The size of each dimension; empty for a scalar (0-dimensional) tensor.
    public let shape: [Int]
    /// The element type.
    public let dtype: DType
    /// The number of elements (the product of the shape).
    public let count: Int

    let storage: TensorStorage
    /// The element offset of this tensor's first element in `storage`.
    let offset: Int
    /// The element strides of a view whose elements are not contiguous in row-major order from
    /// `offset`; `nil` for a contiguous tensor (the common case, kept free of stride arithmetic).
    let viewStrides: [Int]?
    /// A strided view's elements copied into row-major order, made on the first read and valid
    /// while the storage is at `materializedVersion` (see ``pointer(_:)``).
    private var materialized: TensorStorage?
    private var materializedVersion = -1

    /// The gradient accumulated by ``backward(_:retainGraph:)``; `nil` until a backward pass
    /// reaches this tensor. Only leaves (tensors created by the user with `requiresGrad`) and
    /// tensors marked with ``retainGrad()`` receive one.
    public var grad: Tensor?

    /// The node of the autograd graph that produced this tensor, `nil` for leaves.
    var node: GradNode?
    var retainsGrad = false
    // Scratch state of a backward pass (see Autograd.swift).
    var pendingGrad: Tensor?
    var visitMark: UInt64 = 0

    var requiresGradStorage = false

    /// Whether gradients flow to this tensor. Setting it is only allowed on leaves of a
    /// floating-point type.
    public var requiresGrad: Bool {
        get { requiresGradStorage }
        set {
            require(node == nil || newValue,
                    "requiresGrad: cannot turn off gradients of a non-leaf tensor; use detached()")
            require(!newValue || dtype.isFloatingPoint,
                    "requiresGrad: only floating-point tensors can require gradients, this one is \(dtype)")
            requiresGradStorage = newValue
        }
    }

    /// `true` for tensors not produced by a recorded operation.
    public var isLeaf: Bool { node == nil }

    /// The number of dimensions.
    public var rank: Int { shape.count }

    init(storage: TensorStorage, shape: [Int], dtype: DType, offset: Int = 0) {
        self.storage = storage
        self.shape = shape
        self.dtype = dtype
        self.offset = offset
        self.count = shape.reduce(1, *)
        self.viewStrides = nil
    }

    /// A view of `storage` with explicit strides; stored as contiguous when they are the
    /// row-major strides of `shape` (dimensions of size 1 may have any stride).
    init(storage: TensorStorage, shape: [Int], dtype: DType, offset: Int, strides: [Int]) {
        self.storage = storage
        self.shape = shape
        self.dtype = dtype
        self.offset = offset
        let count = shape.reduce(1, *)
        self.count = count
        self.viewStrides = count == 0 || Tensor.areRowMajor(strides, shape) ? nil : strides
    }

    /// The row-major (C-order) strides of `shape`.
    static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = step
            step *= Swift.max(shape[d], 1)
        }
        return strides
    }

    /// Whether `strides` lay `shape` out in row-major order (ignoring dimensions of size 1).
    static func areRowMajor(_ strides: [Int], _ shape: [Int]) -> Bool {
        var step = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] != 1 {
            if strides[d] != step { return false }
            step *= shape[d]
        }
        return true
    }

    /// Whether the elements lie in row-major order without gaps, so that kernels read them
    /// directly (torch's `is_contiguous()`). Views made by ``permuted(_:)``,
    /// ``expanded(to:)`` or a strided slice are not.
    public var isContiguous: Bool { viewStrides == nil }

    /// The distance in elements between neighbours along each dimension (torch's `stride()`).
    public var strides: [Int] { viewStrides ?? Tensor.rowMajorStrides(shape) }

    /// The position of the first element in the storage, in elements (torch's `storage_offset()`).
    public var storageOffset: Int { offset }

    /// How many times the storage under this tensor has been written in place (torch's
    /// `_version`); views of one storage share it. The backward pass compares it with the value
    /// it had when an operation saved the tensor.
    public var version: Int { storage.version }

    /// Whether the two tensors are views of the same storage (a write through one may show in
    /// the other).
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }

    /// This tensor's values in contiguous storage: the tensor itself when it is contiguous
    /// already, otherwise a copy (torch's `contiguous()`). Gradients pass through unchanged.
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        let out = Tensor.empty(shape, dtype: dtype)
        copyElements(into: out.storage.raw)
        return out.recording("contiguous", self) { g, _ in [g] }
    }

    /// For a strided view that covers a block of its storage without gaps or overlaps in some
    /// order of its dimensions (a permuted contiguous tensor, say): the contiguous tensor over
    /// the same elements and the permutation with `self == alias.permuted(order)`. Reductions
    /// run on the alias, in memory order, instead of copying the view first. `nil` otherwise.
    func denseAlias() -> (alias: Tensor, order: [Int])? {
        guard let strides = viewStrides else { return nil }
        let sorted = (0..<rank).sorted { a, b in
            strides[a] != strides[b] ? strides[a] > strides[b] : a < b
        }
        let aliasShape = sorted.map { shape[$0] }
        guard Tensor.areRowMajor(sorted.map { strides[$0] }, aliasShape) else { return nil }
        var order = [Int](repeating: 0, count: rank)
        for (position, d) in sorted.enumerated() { order[d] = position }
        return (Tensor(storage: storage, shape: aliasShape, dtype: dtype, offset: offset), order)
    }

    /// Writes the elements in row-major order to `destination` (which holds `count` elements).
    func copyElements(into destination: UnsafeMutableRawPointer) {
        guard count > 0 else { return }
        guard let strides = viewStrides else {
            memcpy(destination, storage.raw + offset * dtype.byteCount, count * dtype.byteCount)
            return
        }
        func run<T>(_: T.Type) {
            Tensor.stridedCopy(from: storage.raw.assumingMemoryBound(to: T.self) + offset, strides: strides,
                               to: destination.assumingMemoryBound(to: T.self), shape: shape)
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        case .int64: run(Int64.self)
        case .bool: run(Bool.self)
        }
    }

    /// Writes `count` row-major elements from `source` into this view's places in the storage.
    func scatterElements(from source: UnsafeRawPointer) {
        guard count > 0 else { return }
        let strides = self.strides
        func run<T>(_: T.Type) {
            Tensor.stridedScatter(from: source.assumingMemoryBound(to: T.self),
                                  to: storage.raw.assumingMemoryBound(to: T.self) + offset,
                                  strides: strides, shape: shape)
        }
        switch dtype {
        case .float32: run(Float.self)
        case .float64: run(Double.self)
        case .int64: run(Int64.self)
        case .bool: run(Bool.self)
        }
    }

    /// The tensor an elementwise kernel producing `out` (same shape and type, fresh) should
    /// read: this tensor, unless it is a strided view without a current contiguous copy; then its
    /// elements are gathered straight into `out` and the kernel runs in place on `out` (one
    /// pass over the view instead of a copy and a second pass).
    func elementwiseSource(stagingInto out: Tensor) -> Tensor {
        guard out.dtype == dtype, out.count == count, unmaterializedViewStrides() != nil else { return self }
        copyElements(into: out.storage.raw)
        return out
    }

    /// The strides of a strided view whose elements an elementwise kernel should read in place
    /// (no current contiguous copy of it exists); nil for a contiguous tensor, an empty one, or
    /// a view read before.
    func unmaterializedViewStrides() -> [Int]? {
        guard let viewStrides, count > 0 else { return nil }
        let current = materializationLock.withLock { materialized != nil && materializedVersion == storage.version }
        return current ? nil : viewStrides
    }

    /// The contiguous copy of a strided view that kernels read, made again after the storage
    /// was written in place.
    @inline(never)
    private func materializedBase() -> UnsafeMutableRawPointer {
        materializationLock.withLock {
            if let materialized, materializedVersion == storage.version { return materialized.raw }
            let copy = TensorStorage(count: count, dtype: dtype)
            copyElements(into: copy.raw)
            materialized = copy
            materializedVersion = storage.version
            return copy.raw
        }
    }

    /// A new tensor with uninitialized contents.
    /// `op` names the caller in the message when the shape is negative or too large.
    static func empty(_ shape: [Int], dtype: DType, op: String = "Tensor") -> Tensor {
        let count = elementCount(of: shape, op: op)
        require(count <= Int.max / dtype.byteCount,
                "\(op): shape \(describe(shape)) of \(dtype) needs more bytes than an Int can count")
        return Tensor(storage: TensorStorage(count: count, dtype: dtype), shape: shape, dtype: dtype)
    }

    /// Marks this tensor as requiring gradients and returns it (for chaining at creation).
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        requiresGrad = flag
        return self
    }

    /// Keeps the gradient of this non-leaf tensor in ``grad`` after a backward pass.
    public func retainGrad() {
        retainsGrad = true
    }

    // MARK: - Raw access

    /// The elements in row-major order, for reading: the storage itself for a contiguous
    /// tensor, the materialized copy for a strided view. Writes to an existing tensor go through
    /// ``writingInPlace(_:_:)`` instead, which reaches the storage of a view too.
    @inline(__always)
    func pointer<T>(_: T.Type) -> UnsafeMutablePointer<T> {
        if _fastPath(viewStrides == nil) { return storage.raw.assumingMemoryBound(to: T.self) + offset }
        return materializedBase().assumingMemoryBound(to: T.self)
    }

    /// The elements in row-major order as raw bytes, for reading (see ``pointer(_:)``).
    var elementBytes: UnsafeMutableRawPointer {
        if viewStrides == nil { return storage.raw + offset * dtype.byteCount }
        return materializedBase()
    }

    @inline(__always)
    func buffer<T>(_: T.Type) -> UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(start: pointer(T.self), count: count)
    }

    /// Calls `body` with the elements, which must be of type `T`.
    public func withUnsafeBufferPointer<T: TensorScalar, R>(
        as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R
    ) rethrows -> R {
        checkType(T.self, "withUnsafeBufferPointer")
        return try body(UnsafeBufferPointer(buffer(T.self)))
    }

    /// Calls `body` with the elements for writing, in row-major order. Gradient recording does
    /// not see such writes; they count as an in-place change (``version``). A strided view
    /// hands `body` a contiguous copy and writes it back to the storage afterwards.
    public func withUnsafeMutableBufferPointer<T: TensorScalar, R>(
        as type: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R
    ) rethrows -> R {
        checkType(T.self, "withUnsafeMutableBufferPointer")
        // A contiguous tensor (every optimizer step's case) is written where it lies, without
        // the generic write-through path.
        guard isContiguous else {
            return try writingInPlace("withUnsafeMutableBufferPointer") { try body($0.buffer(T.self)) }
        }
        defer { storage.version += 1 }
        return try body(buffer(T.self))
    }

    @inline(__always)
    func checkType<T: TensorScalar>(_: T.Type, _ op: String) {
        require(T.dtype == dtype, "\(op): the tensor holds \(dtype), not \(T.dtype)")
    }

    /// The elements in row-major order, as Swift values of type `T` (which must match ``dtype``).
    public func scalars<T: TensorScalar>(as type: T.Type) -> [T] {
        checkType(T.self, "scalars(as:)")
        return Array(buffer(T.self))
    }

    /// The elements converted to `Double`, whatever the element type.
    public var doubles: [Double] {
        switch dtype {
        case .float32: return buffer(Float.self).map { Double($0) }
        case .float64: return Array(buffer(Double.self))
        case .int64: return buffer(Int64.self).map { Double($0) }
        case .bool: return buffer(Bool.self).map { $0 ? 1 : 0 }
        }
    }

    /// The elements converted to `Float`, whatever the element type.
    public var floats: [Float] {
        switch dtype {
        case .float32: return Array(buffer(Float.self))
        default: return doubles.map { Float($0) }
        }
    }

    /// The single element of a one-element tensor, as `T` (which must match ``dtype``).
    public func item<T: TensorScalar>(as type: T.Type) -> T {
        require(count == 1, "item: the tensor has \(count) elements (shape \(shape)), not 1")
        checkType(T.self, "item(as:)")
        return pointer(T.self).pointee
    }

    /// The single element of a one-element tensor, converted to `Double`.
    public var item: Double {
        require(count == 1, "item: the tensor has \(count) elements (shape \(shape)), not 1")
        return element(at: 0)
    }

    /// The element at a flat (row-major) index, converted to `Double`.
    func element(at index: Int) -> Double {
        switch dtype {
        case .float32: return Double(pointer(Float.self)[index])
        case .float64: return pointer(Double.self)[index]
        case .int64: return Double(pointer(Int64.self)[index])
        case .bool: return pointer(Bool.self)[index] ? 1 : 0
        }
    }

    // MARK: - Creation from Swift values

    /// A tensor holding `scalars` in the given shape (row-major). The element type follows `T`
    /// unless `dtype` converts it.
    public convenience init<T: TensorScalar>(_ scalars: [T], shape: [Int], dtype: DType? = nil) {
        let count = elementCount(of: shape, op: "Tensor")
        require(count == scalars.count,
                "Tensor: \(scalars.count) values do not fill shape \(shape) (\(count) elements)")
        let storage = TensorStorage(count: count, dtype: T.dtype)
        scalars.withUnsafeBufferPointer { source in
            if count > 0 {
                storage.raw.assumingMemoryBound(to: T.self).update(from: source.baseAddress!, count: count)
            }
        }
        self.init(storage: storage, shape: shape, dtype: T.dtype)
        if let dtype, dtype != T.dtype {
            let converted = self.to(dtype)
            self.init(storage: converted.storage, shape: shape, dtype: dtype)
        }
    }

    /// A one-dimensional tensor holding `scalars`.
    public convenience init<T: TensorScalar>(_ scalars: [T], dtype: DType? = nil) {
        self.init(scalars, shape: [scalars.count], dtype: dtype)
    }

    /// A two-dimensional tensor from rows of equal length.
    public convenience init<T: TensorScalar>(_ rows: [[T]], dtype: DType? = nil) {
        let columns = rows.first?.count ?? 0
        for (i, row) in rows.enumerated() {
            require(row.count == columns,
                    "Tensor: row \(i) has \(row.count) values, row 0 has \(columns)")
        }
        self.init(rows.flatMap { $0 }, shape: [rows.count, columns], dtype: dtype)
    }

    /// A three-dimensional tensor from nested arrays of equal lengths.
    public convenience init<T: TensorScalar>(_ planes: [[[T]]], dtype: DType? = nil) {
        let rows = planes.first?.count ?? 0
        let columns = planes.first?.first?.count ?? 0
        for (i, plane) in planes.enumerated() {
            require(plane.count == rows && plane.allSatisfy { $0.count == columns },
                    "Tensor: plane \(i) is not \(rows) × \(columns) like plane 0")
        }
        self.init(planes.flatMap { $0.flatMap { $0 } }, shape: [planes.count, rows, columns], dtype: dtype)
    }

    /// A 0-dimensional tensor holding one value.
    public convenience init<T: TensorScalar>(scalar: T, dtype: DType? = nil) {
        self.init([scalar], shape: [], dtype: dtype)
    }

    /// A tensor of the given shape whose elements are written by `body` (which must write all of
    /// them): the fast way to build a tensor from decoded bytes.
    public convenience init<T: TensorScalar>(
        shape: [Int], unsafeUninitialized body: (UnsafeMutableBufferPointer<T>) throws -> Void
    ) rethrows {
        let made = Tensor.empty(shape, dtype: T.dtype)
        try body(made.buffer(T.self))
        self.init(storage: made.storage, shape: shape, dtype: T.dtype)
    }
}

/// Serializes the materialization of strided views read from several threads at once.
private let materializationLock = Mutex()

/// Formats a shape the way errors print it: `[32, 10]`.
func describe(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
