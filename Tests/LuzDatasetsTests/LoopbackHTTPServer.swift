import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal HTTP/1.1 server on 127.0.0.1 (an ephemeral port) for download tests: it answers
/// each request by path with a canned behaviour, including broken ones a real mirror can show.
/// One thread accepts connections; each connection is answered on its own thread, then closed.
final class LoopbackHTTPServer: @unchecked Sendable {
    /// How the server answers a path.
    enum Behavior {
        /// `200 OK` with the whole body.
        case body([UInt8])
        /// `404 Not Found`.
        case notFound
        /// Announces the full `Content-Length`, sends only the first `sent` bytes, then closes
        /// the connection normally.
        case truncated([UInt8], sent: Int)
        /// Announces the full `Content-Length`, sends the first `sent` bytes, then aborts the
        /// connection (TCP reset).
        case cut([UInt8], sent: Int)
        /// Announces the full `Content-Length`, then sends one byte every `interval` seconds (a
        /// mirror that trickles: never silent long enough for a stall timeout).
        case trickle([UInt8], interval: TimeInterval)
        /// `200 OK` with the body and a `Content-Encoding` header (a mirror that labels a gzip
        /// file as gzip-encoded content, whatever the request asked).
        case encoded([UInt8], contentEncoding: String)
    }

    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var routes: [String: Behavior] = [:]
    private var log: [String] = []
    private var stopped = false

    /// The server's root URL, `http://127.0.0.1:<port>/`.
    var baseURL: URL { URL(string: "http://127.0.0.1:\(port)/")! }

    /// The request paths received so far, in order.
    var requestedPaths: [String] { lock.withLock { log } }

    init() throws {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(.init(rawValue: code) ?? .EIO)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "LoopbackHTTPServer.accept"
        thread.start()
    }

    deinit { stop() }

    /// Sets the answer for a path (starting with `/`).
    func route(_ path: String, _ behavior: Behavior) {
        lock.withLock { routes[path] = behavior }
    }

    /// Stops accepting connections.
    func stop() {
        let wasStopped = lock.withLock { () -> Bool in
            defer { stopped = true }
            return stopped
        }
        guard !wasStopped else { return }
        // Wakes the blocked accept() with an error on Linux.
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            if lock.withLock({ stopped }) {
                close(connection)
                return
            }
            let thread = Thread { [self] in handle(connection) }
            thread.start()
        }
    }

    private func handle(_ connection: Int32) {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // Read the request head (requests here have no body).
        var request = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while request.count < 65536 {
            let n = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            request += chunk[0..<n]
            if request.count >= 4, request.suffix(4) == [13, 10, 13, 10] { break }
        }
        let head = String(decoding: request, as: UTF8.self)
        let requestLine = head.split(separator: "\r\n").first ?? ""
        let parts = requestLine.split(separator: " ")
        let path = parts.count >= 2 ? String(parts[1]) : "/"
        let behavior = lock.withLock { () -> Behavior in
            log.append(path)
            return routes[path] ?? .notFound
        }
        switch behavior {
        case .notFound:
            send(connection, header(status: "404 Not Found", length: 9) + Array("not found".utf8))
            close(connection)
        case .body(let body):
            send(connection, header(status: "200 OK", length: body.count) + body)
            close(connection)
        case .truncated(let body, let sent):
            send(connection, header(status: "200 OK", length: body.count) + body.prefix(sent))
            shutdown(connection, Int32(SHUT_WR))
            close(connection)
        case .cut(let body, let sent):
            send(connection, header(status: "200 OK", length: body.count) + body.prefix(sent))
            // A zero linger time makes close() send a reset instead of a normal end.
            var option = linger(l_onoff: 1, l_linger: 0)
            setsockopt(connection, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
            close(connection)
        case .trickle(let body, let interval):
            send(connection, header(status: "200 OK", length: body.count))
            for byte in body {
                if lock.withLock({ stopped }) || !send(connection, [byte]) { break }
                Thread.sleep(forTimeInterval: interval)
            }
            close(connection)
        case .encoded(let body, let encoding):
            send(connection, header(status: "200 OK", length: body.count, extra: "Content-Encoding: \(encoding)\r\n") + body)
            close(connection)
        }
    }

    private func header(status: String, length: Int, extra: String = "") -> [UInt8] {
        Array("HTTP/1.1 \(status)\r\nContent-Type: application/octet-stream\r\n\(extra)Content-Length: \(length)\r\nConnection: close\r\n\r\n".utf8)
    }

    /// Sends all of `bytes`; `false` when the client has gone.
    @discardableResult
    private func send(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        return bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                // MSG_NOSIGNAL: a client that hung up must not kill the test process with SIGPIPE.
                let n = Glibc.send(connection, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
    }
}
