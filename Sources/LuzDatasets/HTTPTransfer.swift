import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Downloads one URL to a file with `URLSession`, streaming the body to disk as it arrives.
///
/// A data task with a delegate is used rather than a download task, so that the bytes go
/// straight into the caller's temporary file and can be counted: a server that closes the
/// connection early, or sends fewer bytes than its `Content-Length`, is reported as an error
/// here even where the transport itself would not complain.
enum HTTPTransfer {
    /// - Parameters:
    ///   - timeout: the longest stall (no byte at all) allowed.
    ///   - deadline: the longest the whole transfer may take, given the announced size in bytes
    ///     (-1 when unknown): a mirror that trickles a byte every few seconds never stalls.
    static func download(_ url: URL, to writer: FileWriter, name: String, timeout: TimeInterval,
                         deadline: (Int64) -> TimeInterval, progress: ProgressBar) throws {
        let delegate = Delegate(writer: writer, progress: progress)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        let session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: queue)
        var request = URLRequest(url: url)
        // Some hosts refuse the default agent; say who is asking.
        request.setValue("luz-datasets", forHTTPHeaderField: "User-Agent")
        // A compressed transfer encoding would make Content-Length count other bytes.
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        let task = session.dataTask(with: request)
        let start = DispatchTime.now()
        task.resume()
        var overdue: DatasetError?
        while delegate.done.wait(timeout: .now() + 0.2) == .timedOut {
            let (expected, received) = delegate.counts
            let allowed = deadline(expected)
            if overdue == nil, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 > allowed {
                let total = expected >= 0 ? "of \(expected) " : ""
                overdue = DatasetError.io(
                    file: name,
                    reason: "the transfer took longer than its deadline of \(Int(allowed)) s (\(received) bytes \(total)received; LUZ_DOWNLOAD_DEADLINE sets the deadline in seconds)")
                task.cancel()
            }
        }
        session.finishTasksAndInvalidate()
        progress.finish()

        if let overdue { throw overdue }
        if let failure = delegate.failure { throw failure }
        if let error = delegate.transportError {
            throw DatasetError.io(file: name, reason: "transfer failed: \(error.localizedDescription)")
        }
        guard let status = delegate.status else {
            throw DatasetError.io(file: name, reason: "no HTTP response")
        }
        guard (200..<300).contains(status) else {
            throw DatasetError.io(file: name, reason: "HTTP status \(status)")
        }
        if delegate.expected >= 0 && delegate.received != delegate.expected {
            // The transport decoded a body it was not asked to encode: the sizes differ because
            // the bytes are no longer the file, not because the transfer was cut.
            if let encoding = delegate.contentEncoding, encoding.lowercased() != "identity" {
                throw DatasetError.io(
                    file: name,
                    reason: "the server sent the file with Content-Encoding: \(encoding) although identity was asked, and the transfer was decoded (\(delegate.received) bytes from the \(delegate.expected) sent): these are not the file's bytes; use another mirror")
            }
            throw DatasetError.truncated(file: name, expectedBytes: Int(delegate.expected),
                                         actualBytes: Int(delegate.received))
        }
    }

    /// Receives the response on the session's serial queue. The waiting thread reads the fields
    /// only after `done` is signalled, which orders the accesses.
    private final class Delegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        let writer: FileWriter
        let progress: ProgressBar
        let done = DispatchSemaphore(value: 0)
        var status: Int?
        var contentEncoding: String?
        private let lock = NSLock()
        private var _expected: Int64 = -1
        private var _received: Int64 = 0
        var expected: Int64 { lock.withLock { _expected } }
        var received: Int64 { lock.withLock { _received } }
        /// Both counts at once, for the waiting thread while the transfer runs.
        var counts: (expected: Int64, received: Int64) { lock.withLock { (_expected, _received) } }
        var transportError: Error?
        var failure: Error?

        init(writer: FileWriter, progress: ProgressBar) {
            self.writer = writer
            self.progress = progress
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
            let http = response as? HTTPURLResponse
            status = http?.statusCode
            contentEncoding = http?.value(forHTTPHeaderField: "Content-Encoding")
            lock.withLock { _expected = response.expectedContentLength }
            // Don't spend time receiving an error page.
            completionHandler((200..<300).contains(status ?? 0) ? .allow : .cancel)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            guard failure == nil else { return }
            do {
                try data.withUnsafeBytes { try writer.write($0) }
                let (total, count) = lock.withLock { () -> (Int64, Int64) in
                    _received += Int64(data.count)
                    return (_expected, _received)
                }
                progress.update(received: count, total: total)
            } catch {
                failure = error
                dataTask.cancel()
            }
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            // A cancel after a non-2xx status is ours, not a transport failure.
            if let error, !((error as? URLError)?.code == .cancelled && status.map({ !(200..<300).contains($0) }) == true) {
                transportError = error
            }
            done.signal()
        }
    }
}
