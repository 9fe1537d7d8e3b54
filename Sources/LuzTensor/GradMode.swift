#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether operations record the autograd graph, per thread.
///
/// Recording is on by default. `withNoGrad { }` turns it off for the current thread only, so a
/// data-loading thread or a parallel evaluation never changes what the training thread records.
public enum GradMode {
    // The key holds the nesting depth of no-grad scopes as a pointer-sized integer (0 = recording).
    private static let createdKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// ``createdKey`` once made, in a constant-initialized variable: every recorded operation
    /// reads the key, and a read of the lazy `let` goes through its initialization guard (a
    /// runtime call) each time. Threads that race on the first read store the same value.
    @exclusivity(unchecked) nonisolated(unsafe) private static var cachedKey: pthread_key_t = .max

    private static var key: pthread_key_t {
        @inline(__always) get {
            let cached = cachedKey
            if _fastPath(cached != .max) { return cached }
            let made = createdKey
            cachedKey = made
            return made
        }
    }

    /// `true` when operations on the current thread record gradients.
    public static var isEnabled: Bool {
        @inline(__always) get { pthread_getspecific(key) == nil }
    }

    @inline(__always)
    static func setDisabledDepth(_ depth: Int) {
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: depth))
    }

    @inline(__always)
    static var disabledDepth: Int { Int(bitPattern: pthread_getspecific(key)) }
}

/// Runs `body` with gradient recording turned off on this thread (torch's `with torch.no_grad()`).
///
/// Optimizer steps, metrics and validation run inside such a scope; tensors created inside it
/// have no graph, and in-place updates of parameters are allowed.
@discardableResult
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    let depth = GradMode.disabledDepth
    GradMode.setDisabledDepth(depth + 1)
    defer { GradMode.setDisabledDepth(depth) }
    return try body()
}

/// Runs `body` with gradient recording explicitly on or off on this thread.
@discardableResult
public func withGradMode<R>(enabled: Bool, _ body: () throws -> R) rethrows -> R {
    let depth = GradMode.disabledDepth
    GradMode.setDisabledDepth(enabled ? 0 : depth + 1)
    defer { GradMode.setDisabledDepth(depth) }
    return try body()
}
