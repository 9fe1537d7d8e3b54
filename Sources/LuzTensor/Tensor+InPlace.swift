#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Tensor {
    /// This tensor converted to `type` (a copy; the same tensor when the type already matches).
    /// Gradients flow back through conversions between floating-point types.
    public func to(_ type: DType) -> Tensor {
        if type == dtype { return self }
        let out = Tensor.empty(shape, dtype: type)
        func convert<S, D>(_: S.Type, _: D.Type, _ f: (S) -> D) {
            let src = pointer(S.self), dst = out.pointer(D.self)
            parallelChunks(count) { range in for i in range { dst[i] = f(src[i]) } }
        }
        switch (dtype, type) {
        case (.float32, .float64): convert(Float.self, Double.self) { Double($0) }
        case (.float32, .int64): convert(Float.self, Int64.self) { $0.isFinite ? Int64($0) : 0 }
        case (.float32, .bool): convert(Float.self, Bool.self) { $0 != 0 }
        case (.float64, .float32): convert(Double.self, Float.self) { Float($0) }
        case (.float64, .int64): convert(Double.self, Int64.self) { $0.isFinite ? Int64($0) : 0 }
        case (.float64, .bool): convert(Double.self, Bool.self) { $0 != 0 }
        case (.int64, .float32): convert(Int64.self, Float.self) { Float($0) }
        case (.int64, .float64): convert(Int64.self, Double.self) { Double($0) }
        case (.int64, .bool): convert(Int64.self, Bool.self) { $0 != 0 }
        case (.bool, .float32): convert(Bool.self, Float.self) { $0 ? 1 : 0 }
        case (.bool, .float64): convert(Bool.self, Double.self) { $0 ? 1 : 0 }
        case (.bool, .int64): convert(Bool.self, Int64.self) { $0 ? 1 : 0 }
        default: break
        }
        if dtype.isFloatingPoint && type.isFloatingPoint {
            let sourceType = dtype
            return out.recording("to", self) { g, _ in [g.to(sourceType)] }
        }
        return out
    }

    /// A copy in fresh, contiguous storage (the graph sees it as an identity).
    public func contiguousCopy() -> Tensor {
        let out = Tensor.empty(shape, dtype: dtype)
        copyElements(into: out.storage.raw)
        return out.recording("clone", self) { g, _ in [g] }
    }

    /// A copy in fresh storage (torch's `clone`).
    public func cloned() -> Tensor { contiguousCopy() }

    // MARK: - In-place updates

    /// In-place writes are refused on a leaf that requires grad while recording, because the
    /// graph may have saved its old values (torch raises the same error).
    @inline(__always)
    func checkInPlace(_ op: String) {
        require(!(requiresGrad && GradMode.isEnabled && node == nil),
                "\(op): in-place update of a leaf that requires grad; do it inside withNoGrad { }")
        require(node == nil || !GradMode.isEnabled,
                "\(op): in-place update of a tensor that is part of a recorded graph")
    }

    /// Refuses a write to a view in which several elements share one memory location (an
    /// expanded dimension), as torch does: the result would depend on the order of the writes.
    func checkWritable(_ op: String) {
        guard let strides = viewStrides else { return }
        for d in shape.indices where shape[d] > 1 {
            require(strides[d] != 0,
                    "\(op): unsupported operation: more than one element of the written-to tensor (shape \(describe(shape)), strides \(strides)) refers to a single memory location; clone() the tensor before writing to it")
        }
    }

    /// Runs `write` on a contiguous tensor holding this tensor's elements and makes the result
    /// this tensor's values: on this tensor itself when it is contiguous, on a scratch copy
    /// scattered back into the storage for a strided view (the write goes through to every view
    /// of the storage). Counts one in-place change of the storage (``version``).
    func writingInPlace<R>(_ op: String, _ write: (Tensor) throws -> R) rethrows -> R {
        defer { storage.version += 1 }
        if isContiguous { return try write(self) }
        checkWritable(op)
        let scratch = Tensor.empty(shape, dtype: dtype)
        copyElements(into: scratch.storage.raw)
        defer { scatterElements(from: scratch.storage.raw) }
        return try write(scratch)
    }

    /// Sets every element to `value`.
    public func fill(_ value: Double) {
        checkInPlace("fill")
        writingInPlace("fill") { target in
            let count = target.count
            switch dtype {
            case .float32:
                let p = target.pointer(Float.self), v = Float(value)
                parallelChunks(count) { range in for i in range { p[i] = v } }
            case .float64:
                let p = target.pointer(Double.self)
                parallelChunks(count) { range in for i in range { p[i] = value } }
            case .int64:
                let p = target.pointer(Int64.self), v = Int64(value)
                for i in 0..<count { p[i] = v }
            case .bool:
                let p = target.pointer(Bool.self)
                for i in 0..<count { p[i] = value != 0 }
            }
        }
    }

    /// Sets every element to zero.
    public func zero() { fill(0) }

    /// Copies the values of `source` (broadcast to this shape, converted to this type) into
    /// this tensor's memory (through to the storage when this tensor is a view).
    public func copy(from source: Tensor) {
        checkInPlace("copy")
        let values = withNoGrad { source.to(dtype).expanded(to: shape).contiguous() }
        if !isContiguous {
            checkWritable("copy")
            scatterElements(from: values.storage.raw + values.offset * dtype.byteCount)
            storage.version += 1
            return
        }
        if count > 0 {
            memmove(UnsafeMutableRawPointer(storage.raw) + offset * dtype.byteCount,
                    UnsafeRawPointer(values.storage.raw) + values.offset * dtype.byteCount,
                    count * dtype.byteCount)
        }
        storage.version += 1
    }

    /// Applies `Op(self, other)` into this tensor's memory; `other` broadcasts to this shape.
    private func updateInPlace<Op: BinaryArithmeticOp>(_ other: Tensor, _: Op.Type, op: String) {
        checkInPlace(op)
        require(dtype != .bool, "\(op): in-place arithmetic on a bool tensor")
        let rhs = other.dtype == dtype ? other : other.to(dtype)
        let plan = BroadcastPlan(shape, rhs.shape, op: op)
        require(plan.shape == shape,
                "\(op): \(describe(rhs.shape)) does not broadcast to the updated tensor's \(describe(shape))")
        apply(rhs, Op.self, plan: plan, op: op)
    }

    /// Gradient accumulation into an owned buffer (the engine checks ownership, not the caller).
    func addInPlaceUnchecked(_ other: Tensor) {
        let rhs = other.dtype == dtype ? other : other.to(dtype)
        apply(rhs, AddOp.self, plan: BroadcastPlan(shape, rhs.shape, op: "accumulate grad"), op: "accumulate grad")
    }

    /// `self = Op(self, rhs)` through `plan`, written through to the storage.
    private func apply<Op: BinaryArithmeticOp>(_ rhs: Tensor, _: Op.Type, plan: BroadcastPlan, op: String) {
        writingInPlace(op) { target in
            func run<T: ArithmeticScalar>(_: T.Type) {
                let p = target.pointer(T.self)
                plan.apply(UnsafePointer(p), rhs.pointer(T.self), p, ArithmeticKernel<Op, T>.self)
            }
            switch dtype {
            case .float32: run(Float.self)
            case .float64: run(Double.self)
            default: run(Int64.self)
            }
        }
    }

    /// Adds `other` in place (torch's `add_`).
    public func addInPlace(_ other: Tensor) { updateInPlace(other, AddOp.self, op: "add_") }
    /// Subtracts `other` in place (torch's `sub_`).
    public func subtractInPlace(_ other: Tensor) { updateInPlace(other, SubOp.self, op: "sub_") }
    /// Multiplies by `other` in place (torch's `mul_`).
    public func multiplyInPlace(_ other: Tensor) { updateInPlace(other, MulOp.self, op: "mul_") }
    /// Divides by `other` in place (torch's `div_`).
    public func divideInPlace(_ other: Tensor) { updateInPlace(other, DivOp.self, op: "div_") }

    public static func += (lhs: Tensor, rhs: Tensor) { lhs.addInPlace(rhs) }
    public static func -= (lhs: Tensor, rhs: Tensor) { lhs.subtractInPlace(rhs) }
    public static func *= (lhs: Tensor, rhs: Tensor) { lhs.multiplyInPlace(rhs) }
    public static func /= (lhs: Tensor, rhs: Tensor) { lhs.divideInPlace(rhs) }
    public static func += (lhs: Tensor, rhs: Double) { lhs.addInPlace(lhs.scalarLike(rhs)) }
    public static func -= (lhs: Tensor, rhs: Double) { lhs.subtractInPlace(lhs.scalarLike(rhs)) }
    public static func *= (lhs: Tensor, rhs: Double) { lhs.multiplyInPlace(lhs.scalarLike(rhs)) }
    public static func /= (lhs: Tensor, rhs: Double) { lhs.divideInPlace(lhs.scalarLike(rhs)) }

    /// `self += alpha · other` in one pass (the optimizers' workhorse, torch's `add_(other, alpha:)`).
    public func addInPlace(_ other: Tensor, alpha: Double) {
        checkInPlace("add_")
        require(other.shape == shape,
                "add_: shapes \(describe(shape)) and \(describe(other.shape)) differ")
        let rhs = other.dtype == dtype ? other : other.to(dtype)
        writingInPlace("add_") { target in
            func run<T: TensorFloat>(_: T.Type) {
                let p = target.pointer(T.self), q = rhs.pointer(T.self), a = T(alpha)
                parallelChunks(count) { range in for i in range { p[i] += a * q[i] } }
            }
            withFloatType(dtype, "add_", float: { run(Float.self) }, double: { run(Double.self) })
        }
    }
}
