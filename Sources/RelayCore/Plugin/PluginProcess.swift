import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// One running write-policy plugin: a child process with a pipe to its stdin and one from its
/// stdout (its stderr is the relay's). A command without spaces is a path run as it is; one
/// with spaces runs through `/bin/sh -c`, as strfry does.
final class PluginProcess: @unchecked Sendable {
    let pid: pid_t
    private let input: Int32
    private let output: Int32
    private var buffer: [UInt8] = []
    private let inputLock = NIOLock()
    private var inputClosed = false
    private var stopped = false
    private var readStart = 0

    struct SpawnFailure: Error, CustomStringConvertible {
        let command: String
        let code: Int32
        var description: String { "cannot start \(command): \(String(cString: strerror(code)))" }
    }

    init(command: String) throws {
        // A write to a plugin that has exited must fail with EPIPE, not kill the relay.
        signal(SIGPIPE, SIG_IGN)
        var toChild: [Int32] = [0, 0]
        var fromChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0 else { throw SpawnFailure(command: command, code: errno) }
        guard pipe(&fromChild) == 0 else {
            let code = errno
            close(toChild[0])
            close(toChild[1])
            throw SpawnFailure(command: command, code: code)
        }
        // Not inherited by other children (another plugin, a later restart).
        for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // The relay's end of stdin does not block: a plugin that stops reading cannot hold the
        // sending thread.
        _ = fcntl(toChild[1], F_SETFL, fcntl(toChild[1], F_GETFL) | O_NONBLOCK)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        let arguments = command.contains(" ") ? ["/bin/sh", "-c", command] : [command]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
        close(toChild[0])
        close(fromChild[1])
        guard code == 0 else {
            close(toChild[1])
            close(fromChild[0])
            throw SpawnFailure(command: command, code: code)
        }
        self.pid = pid
        input = toChild[1]
        output = fromChild[0]
    }

    /// Writes `line` and a newline, all of it, waiting at most `timeoutMilliseconds` for room in
    /// the pipe; false when the plugin is gone or does not read.
    func write(_ line: [UInt8], timeoutMilliseconds: Int32) -> Bool {
        var bytes = line
        bytes.append(UInt8(ascii: "\n"))
        return inputLock.withLock {
            guard !inputClosed else { return false }
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(input, $0.baseAddress! + offset, bytes.count - offset) }
                if n > 0 {
                    offset += n
                    continue
                }
                guard n < 0, errno == EINTR || errno == EAGAIN else { return false }
                if errno == EAGAIN {
                    var poller = pollfd(fd: input, events: Int16(POLLOUT), revents: 0)
                    guard poll(&poller, 1, timeoutMilliseconds) == 1 else { return false }
                }
            }
            return true
        }
    }

    /// The next line the plugin wrote, without its newline; nil at end of output. Lines longer
    /// than `maxLine` are cut there (and read as garbage).
    func readLine(maxLine: Int = 1 << 20) -> [UInt8]? {
        while true {
            if let newline = buffer[readStart...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[readStart..<newline])
                readStart = newline + 1
                if readStart > 65536 {
                    buffer.removeFirst(readStart)
                    readStart = 0
                }
                return line
            }
            if buffer.count - readStart >= maxLine {
                let line = Array(buffer[readStart...])
                buffer.removeAll(keepingCapacity: true)
                readStart = 0
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(output, $0.baseAddress!, 65536) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    /// Closes its stdin: a plugin that reads to the end then exits.
    func closeInput() {
        inputLock.withLock {
            if !inputClosed {
                inputClosed = true
                close(input)
            }
        }
    }

    /// Closes its stdin, kills it, and reaps it (once). Its stdout closes when the reader is done.
    func stop() {
        closeInput()
        let first = inputLock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    /// Closes the read end once the reader has stopped reading.
    func closeOutput() { close(output) }

    /// The modification time of `path` in nanoseconds (0 when it cannot be read).
    static func modificationTime(_ path: String) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }
}
