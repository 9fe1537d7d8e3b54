/// Stops the program with `message` when `condition` is false, in every build configuration.
///
/// Use it for every check that guards a caller's input (shapes, sizes, ranges). Swift's
/// `precondition` and `preconditionFailure` print their message only in debug builds: in the
/// `-O` build that `swift run -c release` makes they stop the program with a bare
/// "precondition failure", which leaves a user guessing which op refused which shapes. This
/// check keeps the message. The condition is a cheap inlined compare; building the message and
/// stopping live in a separate function that is never inlined, so the hot path stays small.
/// Internal invariants that a user cannot trigger may keep using `assert`.
///
/// - Parameters:
///   - condition: The requirement; evaluated once.
///   - message: What went wrong, naming the op and the shapes or values involved
///     (`matmul: [32, 10] × [9, 4]: inner dimensions 10 and 9 differ`). Built only on failure.
@inlinable @inline(__always)
public func require(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if _slowPath(!condition()) {
        requirementFailed(message, file: file, line: line)
    }
}

/// Stops the program with `message`, in every build configuration: ``require(_:_:file:line:)``
/// for a branch already known to be wrong (`guard case … else { requirementFailure(…) }`).
public func requirementFailure(
    _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line
) -> Never {
    requirementFailed(message, file: file, line: line)
}

/// The failure path of ``require(_:_:file:line:)``: out of line so the check stays a compare.
@usableFromInline @inline(never)
func requirementFailed(_ message: () -> String, file: StaticString, line: UInt) -> Never {
    fatalError(message(), file: file, line: line)
}

/// The number of elements of a tensor of `shape`, stopping with a message naming `op` and the
/// shape when a dimension is negative or the product does not fit in an `Int`.
///
/// A plain `reduce(1, *)` traps on overflow without saying why; `[1 << 32, 1 << 32]` must say
/// that the shape is too large.
public func elementCount(of shape: [Int], op: String) -> Int {
    var count = 1
    for size in shape {
        require(size >= 0, "\(op): negative dimension in shape \(describe(shape))")
        let (product, overflow) = count.multipliedReportingOverflow(by: size)
        require(!overflow, "\(op): shape \(describe(shape)) has more elements than an Int can count")
        count = product
    }
    return count
}
