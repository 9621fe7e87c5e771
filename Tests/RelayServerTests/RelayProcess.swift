import Foundation
import TernBench
import XCTest

/// `tern serve` as a child process on an ephemeral loopback port, for the tests that kill it,
/// restart it or measure its memory.
final class RelayProcess: @unchecked Sendable {
    let process: Process
    let port: Int

    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tern")
    }

    /// The environment for a `tern` child: the test's own plus `extra`. Under `make
    /// test-sanitize` the test process runs without LeakSanitizer (Swift keeps weak-reference side
    /// tables where it cannot see them, so XCTest's objects read as leaked) and the relay gets
    /// `RELAY_ASAN_OPTIONS`, which turn it on for the relay.
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        if let relayOptions = environment["RELAY_ASAN_OPTIONS"] { environment["ASAN_OPTIONS"] = relayOptions }
        return environment
    }

    struct Run {
        let status: Int32
        let out: String
        let err: String
    }

    /// Runs `tern ARGUMENTS` to completion with `input` on standard input (the store tools, `tern sync`).
    static func run(_ arguments: [String], input: String? = nil) throws -> Run {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = environment()
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        // Read both pipes to their end before waiting, so that neither fills up.
        let errData = LockedData()
        let errDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errData.value = err.fileHandleForReading.readDataToEndOfFile()
            errDone.signal()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        errDone.wait()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, out: String(decoding: outData, as: UTF8.self),
            err: String(decoding: errData.value, as: UTF8.self))
    }

    /// A fresh path under the temporary folder (not created).
    static func temporaryDirectory(_ prefix: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    }

    /// The figure on a tool's summary row `name` (`  accepted      1,234  …`).
    static func figure(_ name: String, in report: String) -> Int? {
        for line in report.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.first.map(String.init) == name, words.count > 1 {
                return Int(words[1].replacingOccurrences(of: ",", with: ""))
            }
        }
        return nil
    }

    /// Everything the relay has logged so far, and a signal for each new chunk.
    private let logSignal = NSCondition()
    private var logText = ""

    /// Standard output, for a command that prints its report at the end (`tern stream`).
    private let out = Pipe()

    /// Starts the relay on `data` with extra `TERN_*` settings and arguments, and waits until it
    /// listens.
    convenience init(data: String, environment: [String: String] = [:], arguments: [String] = []) throws {
        try self.init(
            arguments: ["serve", "--listen", "127.0.0.1:0", "--data", data] + arguments, environment: environment,
            waitForPort: true)
    }

    /// Starts `tern ARGUMENTS` (a long-running command); with `waitForPort`, waits until its log
    /// names the address it listens on.
    init(arguments: [String], environment: [String: String] = [:], waitForPort: Bool) throws {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.environment = Self.environment(environment)
        let err = Pipe()
        process.standardError = err
        if !waitForPort { process.standardOutput = out }  // a relay prints nothing there
        try process.run()
        var log = ""
        var port = 0
        while waitForPort {
            let chunk = err.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw TimedOut() }
            log += String(decoding: chunk, as: UTF8.self)
            if let range = log.range(of: #"address=127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(log[range].split(separator: ":").last!)!
                break
            }
        }
        self.port = port
        logText = log
        self.process = process
        // Keep reading its log so that the relay never blocks on a full pipe.
        err.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            guard let self, !chunk.isEmpty else { return }
            self.logSignal.lock()
            self.logText += String(decoding: chunk, as: UTF8.self)
            self.logSignal.broadcast()
            self.logSignal.unlock()
        }
    }

    /// What the command printed on standard output, once it has exited.
    func output() -> String {
        String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    /// Waits until the relay's log holds `count` lines containing `text` (it logs as it acts, so
    /// this awaits the act, not a time); false when `seconds` pass first.
    func waitForLog(_ text: String, count: Int = 1, seconds: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        logSignal.lock()
        defer { logSignal.unlock() }
        while logText.components(separatedBy: "\n").filter({ $0.contains(text) }).count < count {
            guard logSignal.wait(until: deadline) else { return false }
        }
        return true
    }

    /// What the relay has logged so far.
    var log: String {
        logSignal.lock()
        defer { logSignal.unlock() }
        return logText
    }

    /// CPU and memory (VmRSS now, VmHWM the peak so far) from /proc.
    var sample: ProcessSample? { ProcessSample.read(pid: process.processIdentifier) }

    func kill(_ signal: Int32) {
        Foundation.kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }
}
