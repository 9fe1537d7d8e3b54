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
    static func download(_ url: URL, to writer: FileWriter, name: String, timeout: TimeInterval,
                         progress: ProgressBar) throws {
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
        task.resume()
        delegate.done.wait()
        session.finishTasksAndInvalidate()
        progress.finish()

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
        var expected: Int64 = -1
        var received: Int64 = 0
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
            expected = response.expectedContentLength
            // Don't spend time receiving an error page.
            completionHandler((200..<300).contains(status ?? 0) ? .allow : .cancel)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            guard failure == nil else { return }
            do {
                try data.withUnsafeBytes { try writer.write($0) }
                received += Int64(data.count)
                progress.update(received: received, total: expected)
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
