import EventStorage
import Logging
import NIOConcurrencyHelpers
import NostrCore

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the operator's write-policy plugin, compatible with strfry's: one JSON line per event
/// on its stdin (`type`, `event`, `receivedAt`, `sourceType`, `sourceInfo`), one JSON line back
/// (`id`, `action` accept|reject|shadowReject, `msg`). Events are pipelined to it from its own
/// thread, never from an event loop, and matched to answers by id.
///
/// It bounds what it holds (`queueDepth`) and how long an answer may take (`timeout`): a plugin
/// that hangs is killed and restarted, one that exits is restarted with back-off (0.1 s doubling
/// to 10 s), a line that is not an answer counts as the oldest event's failure. Meanwhile events
/// are accepted or refused as `failOpen` says. A plugin given as a path is restarted when the
/// file changes; a new command (SIGHUP) takes effect at once.
public final class WritePolicyPlugin: @unchecked Sendable {
    /// An event waiting for the plugin's word.
    public struct Request: Sendable {
        let valid: ValidEvent
        let route: Route
        let origin: any EventOrigin
        let address: String
        let receivedAt: Int64

        public init(valid: ValidEvent, route: Route, origin: any EventOrigin, address: String, receivedAt: Int64) {
            self.valid = valid
            self.route = route
            self.origin = origin
            self.address = address
            self.receivedAt = receivedAt
        }
    }

    struct Pending {
        let request: Request
        let deadline: UInt64
        let generation: Int
    }

    struct Running {
        let process: PluginProcess
        let generation: Int
        let startedAt: UInt64
        let modified: Int64
    }

    struct State {
        var settings = PluginSettings()
        var running: Running?
        var generation = 0
        /// Sent and not answered, oldest first.
        var pending: [Pending] = []
        /// Old processes told to finish (stdin closed), killed at their deadline.
        var retiring: [(Running, UInt64)] = []
        var restartAt: UInt64 = 0
        var backoff: UInt64 = 100_000_000
        var lastFileCheck: UInt64 = 0
    }

    let processing: ProcessingService
    let logger: Logger
    let monotonic: @Sendable () -> UInt64
    private let inbox: BatchInbox<Request>
    private let state = NIOLockedValueBox(State())
    private let thread = LoopThread()
    private let readers = NIOLockedValueBox<[LoopThread]>([])

    public init(
        processing: ProcessingService, capacity: Int = 4096, logger: Logger,
        monotonic: @escaping @Sendable () -> UInt64 = AuthorizationService.monotonicNanoseconds
    ) {
        self.processing = processing
        self.logger = logger
        self.monotonic = monotonic
        inbox = BatchInbox(capacity: capacity)
    }

    public func start() {
        thread.start { [self] in run() }
    }

    /// Puts new settings in force: a changed command restarts the plugin.
    public func configure(_ settings: PluginSettings) {
        let old = state.withLockedValue { s -> Running? in
            let changed = s.settings.command != settings.command
            s.settings = settings
            guard changed, let running = s.running else { return nil }
            s.running = nil
            s.restartAt = 0
            return running
        }
        if let old { retire(old) }
    }

    /// Queues an event for the plugin; false when too many wait (the caller answers
    /// `rate-limited:`).
    public func submit(_ request: Request) -> Bool {
        let depth = state.withLockedValue { $0.settings.queueDepth }
        guard inbox.count + pendingCount < depth else { return false }
        return inbox.push(request)
    }

    var pendingCount: Int { state.withLockedValue { $0.pending.count } }

    /// Whether the sending thread has timed work: answers awaited, a start due, an old process
    /// to stop.
    private var busy: Bool {
        state.withLockedValue { s in
            !s.pending.isEmpty || !s.retiring.isEmpty || (s.settings.isEnabled && s.running == nil)
        }
    }

    /// Answers what is queued and sent (waiting up to the timeout), then stops the plugin.
    public func shutdown() {
        inbox.stop()
        thread.join(orRunHere: run)
        let (running, retiring) = state.withLockedValue { s -> (Running?, [(Running, UInt64)]) in
            defer {
                s.running = nil
                s.retiring = []
            }
            return (s.running, s.retiring)
        }
        if let running { running.process.stop() }
        for (old, _) in retiring { old.process.stop() }
        for reader in readers.withLockedValue({ $0 }) { reader.join(orRunHere: {}) }
    }

    // MARK: The sending thread

    private func run() {
        var batch: [Request] = []
        // Every 50 ms while answers are awaited (their deadlines) or a plugin is to be started or
        // stopped; once a second otherwise, so an idle relay without a plugin does not wake often.
        while inbox.take(into: &batch, max: 256, timeoutSeconds: busy ? 0.05 : 1) {
            let now = monotonic()
            maintain(now)
            for request in batch { send(request, now: now) }
            batch.removeAll(keepingCapacity: true)
            expire(monotonic())
        }
        // Stopping: wait for the answers already asked for, up to their deadlines.
        while pendingCount > 0 {
            expire(monotonic())
            if pendingCount > 0 { usleep(10_000) }
        }
    }

    /// Starts the plugin when due, restarts it when its file changed, kills retired ones.
    private func maintain(_ now: UInt64) {
        let (toRetire, toKill, start) = state.withLockedValue { s -> (Running?, [Running], String?) in
            var toRetire: Running?
            if let running = s.running, now - s.lastFileCheck > 1_000_000_000 {
                s.lastFileCheck = now
                if !s.settings.command.contains(" "),
                    PluginProcess.modificationTime(s.settings.command) != running.modified
                {
                    toRetire = running
                    s.running = nil
                    s.restartAt = 0
                }
            }
            let due = s.retiring.filter { $0.1 <= now }.map(\.0)
            s.retiring.removeAll { $0.1 <= now }
            let start = s.running == nil && s.settings.isEnabled && now >= s.restartAt ? s.settings.command : nil
            return (toRetire, due, start)
        }
        if let toRetire {
            logger.info("write-policy plugin changed on disk; restarting it")
            retire(toRetire)
        }
        for old in toKill { old.process.stop() }
        if let start { launch(start, now: now) }
    }

    private func launch(_ command: String, now: UInt64) {
        let process: PluginProcess
        do {
            process = try PluginProcess(command: command)
        } catch {
            logger.error("cannot start the write-policy plugin", metadata: ["error": "\(error)"])
            state.withLockedValue { s in
                s.restartAt = now + s.backoff
                s.backoff = min(s.backoff * 2, 10_000_000_000)
            }
            return
        }
        let generation = state.withLockedValue { s -> Int in
            s.generation += 1
            s.running = Running(
                process: process, generation: s.generation, startedAt: now,
                modified: command.contains(" ") ? 0 : PluginProcess.modificationTime(command))
            s.lastFileCheck = now
            return s.generation
        }
        logger.info("write-policy plugin started", metadata: ["command": "\(command)", "pid": "\(process.pid)"])
        // Each process has its reader thread; those of processes gone are joined here, so a
        // plugin that keeps crashing does not pile up threads.
        let reader = LoopThread()
        let ended = readers.withLockedValue { list -> [LoopThread] in
            var ended: [LoopThread] = []
            var alive: [LoopThread] = []
            for thread in list {
                if thread.isFinished { ended.append(thread) } else { alive.append(thread) }
            }
            list = alive + [reader]
            return ended
        }
        for old in ended { old.join(orRunHere: {}) }
        reader.start { [self] in read(process, generation: generation) }
    }

    private func send(_ request: Request, now: UInt64) {
        let target = state.withLockedValue { s -> (PluginProcess, Int32)? in
            guard let running = s.running else { return nil }
            let timeout = UInt64(s.settings.timeoutMilliseconds) * 1_000_000
            s.pending.append(Pending(request: request, deadline: now + timeout, generation: running.generation))
            return (running.process, Int32(clamping: s.settings.timeoutMilliseconds))
        }
        guard let (process, timeout) = target else { return decide(request, .unavailable) }
        if !process.write(Self.line(for: request), timeoutMilliseconds: timeout) {
            // It exited (its reader answers what it held) or stopped reading (its events expire).
            logger.warning("write-policy plugin is not reading its input")
        }
    }

    /// Fails every pending event past its deadline, and kills the process that let it wait.
    private func expire(_ now: UInt64) {
        let (late, hung) = state.withLockedValue { s -> ([Pending], Running?) in
            guard let first = s.pending.first, first.deadline <= now else { return ([], nil) }
            let generation = first.generation
            let late = s.pending.filter { $0.generation == generation }
            s.pending.removeAll { $0.generation == generation }
            var hung: Running?
            if s.running?.generation == generation {
                hung = s.running
                s.running = nil
                s.restartAt = now + s.backoff
                s.backoff = min(s.backoff * 2, 10_000_000_000)
            }
            if let index = s.retiring.firstIndex(where: { $0.0.generation == generation }) {
                hung = s.retiring.remove(at: index).0
            }
            return (late, hung)
        }
        guard !late.isEmpty else { return }
        logger.error(
            "write-policy plugin did not answer in time; restarting it", metadata: ["events": "\(late.count)"])
        hung?.process.stop()
        for p in late { decide(p.request, .unavailable) }
    }

    private func retire(_ running: Running) {
        let deadline = state.withLockedValue { s -> UInt64 in
            monotonic() + UInt64(s.settings.timeoutMilliseconds) * 1_000_000
        }
        running.process.closeInput()
        state.withLockedValue { $0.retiring.append((running, deadline)) }
    }

    // MARK: The reading thread (one per process)

    private func read(_ process: PluginProcess, generation: Int) {
        while let line = process.readLine() {
            answer(line, generation: generation)
        }
        process.closeOutput()
        let (orphans, current) = state.withLockedValue { s -> ([Pending], Bool) in
            let orphans = s.pending.filter { $0.generation == generation }
            s.pending.removeAll { $0.generation == generation }
            let current = s.running?.generation == generation
            if current {
                s.running = nil
                s.restartAt = monotonic() + s.backoff
                s.backoff = min(s.backoff * 2, 10_000_000_000)
            }
            s.retiring.removeAll { $0.0.generation == generation }
            return (orphans, current)
        }
        if current {
            logger.error("write-policy plugin exited; restarting it", metadata: ["events": "\(orphans.count)"])
            process.stop()
        }
        for p in orphans { decide(p.request, .unavailable) }
    }

    private func answer(_ line: [UInt8], generation: Int) {
        let parsed = Answer(line)
        let matched = state.withLockedValue { s -> Pending? in
            let index: Int?
            if let parsed {
                index = s.pending.firstIndex { $0.request.valid.event.id == parsed.id }
            } else {
                index = s.pending.firstIndex { $0.generation == generation }
            }
            guard let index else { return nil }
            if parsed != nil, let running = s.running, running.generation == generation,
                monotonic() - running.startedAt > 10_000_000_000
            {
                s.backoff = 100_000_000  // it has been working: a later crash restarts quickly
            }
            return s.pending.remove(at: index)
        }
        guard let parsed else {
            logger.warning(
                "write-policy plugin wrote a line that is not an answer",
                metadata: ["line": "\(String(decoding: line.prefix(200), as: UTF8.self))"])
            if let matched { decide(matched.request, .unavailable) }
            return
        }
        guard let matched else {
            logger.warning("write-policy plugin answered for an event it was not asked about")
            return
        }
        decide(matched.request, parsed.verdict)
    }

    // MARK: Verdicts

    enum Verdict: Equatable {
        case accept
        case reject(Rejection)
        case shadowReject
        /// The plugin could not answer.
        case unavailable
    }

    private func decide(_ request: Request, _ verdict: Verdict) {
        let id = request.valid.event.id
        switch verdict {
        case .accept:
            processing.process(request.valid, route: request.route, origin: request.origin)
        case .reject(let rejection):
            request.origin.processed(id, .rejected(rejection))
        case .shadowReject:
            request.origin.processed(id, request.route == .broadcast ? .broadcast : .saved)
        case .unavailable:
            if state.withLockedValue({ $0.settings.failOpen }) {
                processing.process(request.valid, route: request.route, origin: request.origin)
            } else {
                request.origin.processed(id, .rejected(.error("the relay's write policy could not decide; try again")))
            }
        }
    }

    /// One input line: `{"type":"new","event":...,"receivedAt":...,"sourceType":...,"sourceInfo":...}`.
    static func line(for request: Request) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(request.valid.json.count + 128)
        out.append(contentsOf: #"{"type":"new","event":"#.utf8)
        out.append(contentsOf: request.valid.json)
        out.append(contentsOf: #","receivedAt":"#.utf8)
        JSONWriter.appendInt(request.receivedAt, to: &out)
        out.append(contentsOf: #","sourceType":"#.utf8)
        out.append(contentsOf: (request.address.contains(":") ? #""IP6""# : #""IP4""#).utf8)
        out.append(contentsOf: #","sourceInfo":"#.utf8)
        JSONWriter.appendString(request.address, to: &out, mode: .output)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// One output line, when it is an answer.
    struct Answer {
        let id: Bytes32
        let verdict: Verdict

        init?(_ line: [UInt8]) {
            guard let value = try? JSONValue.parse(line), let idHex = value["id"]?.string,
                let id = Bytes32(hex: Array(idHex.utf8)), let action = value["action"]?.string
            else { return nil }
            self.id = id
            let message = value["msg"]?.string ?? ""
            switch action {
            case "accept": verdict = .accept
            case "shadowReject": verdict = .shadowReject
            case "reject": verdict = .reject(Self.rejection(message))
            default: return nil
            }
        }

        /// The plugin's message as the client's OK reason: its prefix kept when it has one of
        /// NIP-01's, `blocked:` otherwise.
        static func rejection(_ message: String) -> Rejection {
            let detail = message.isEmpty ? "rejected by the relay's write policy" : message
            guard let colon = message.firstIndex(of: ":") else { return .blocked(detail) }
            let prefix = message[..<colon]
            var rest = message[message.index(after: colon)...]
            while rest.first == " " { rest.removeFirst() }
            let text = String(rest)
            switch prefix {
            case "duplicate": return .duplicate(text)
            case "pow": return .pow(text)
            case "blocked": return .blocked(text)
            case "rate-limited": return .rateLimited(text)
            case "invalid": return .invalid(text)
            case "restricted": return .restricted(text)
            case "mute": return .mute(text)
            case "auth-required": return .authRequired(text)
            case "error": return .error(text)
            default: return .blocked(detail)
            }
        }
    }
}
