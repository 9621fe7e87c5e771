import EventStorage
import Logging
import NostrCore

/// The log-backed write path (`StoreOptions.log`): a batch's stored writes go into the event log
/// with one fdatasync and into the in-memory tail, and are answered; the checkpoint thread puts
/// the tail into LMDB every few seconds or megabytes, in transactions of a bounded size.
/// Start-up takes what the log holds past the last checkpoint into the tail again.
extension EventStore {
    /// The meta key of the last log record a checkpoint put into LMDB.
    static let checkpointKey = Array("log_checkpoint".utf8)

    /// The last log record LMDB holds, as this snapshot sees it.
    func checkpointed(_ txn: LMDBTransaction) throws -> UInt64 {
        try txn.getBytes(dbs.meta, Self.checkpointKey).map { b in
            b.count == 8 ? b.withUnsafeBytes { IndexKeys.readUInt64($0, at: 0) } : 0
        } ?? 0
    }

    /// The last log record LMDB holds (0 before the first checkpoint).
    public var checkpointedRecord: UInt64 { (try? read { try checkpointed($0) }) ?? 0 }

    /// The meta key where a tool beside a running relay asks it to checkpoint up to a record.
    static let checkpointRequestKey = Array("log_checkpoint_request".utf8)

    /// Opens the log in `<data>/log`, starts the checkpoint thread, and takes what the log holds
    /// past the last checkpoint (a crash's tail) into the tail again, record by record, by the
    /// rules, as the writer took it in; the checkpoint thread then puts it into LMDB while the
    /// relay already serves (start-up reads and decodes the log, and writes nothing to LMDB).
    func openLog(_ options: LogOptions) throws -> LogTail {
        let lockFD = try Self.lockDataDirectory(path)
        guard lockFD >= 0 else { throw LogError("another tern is serving from \(path)", 0) }
        var started: LogTail?
        do {
            let start = try read { try checkpointed($0) }
            let log = try EventLog(directory: path + "/log", first: start + 1, segmentLimit: options.segmentBytes) {
                [logger] problem in
                logger.warning("event log repaired", metadata: ["problem": "\(problem)"])
            }
            try EventLog.removeSegments(in: log.directory, before: start + 1)
            let tail = LogTail(log: log, options: options, checkpointed: start, lockFD: lockFD)
            tail.start(
                apply: { [unowned self, unowned tail] layer in try checkpoint(layer, of: tail, faults: options.faults)
                },
                failed: { [logger] problem in
                    logger.error("checkpoint failed; the log keeps its writes", metadata: ["error": "\(problem)"])
                })
            started = tail
            var events = 0
            try log.replay(from: start + 1) { number, payload in
                guard let writes = LogRecord.decode(payload) else {
                    throw LogError("log record \(number) does not hold a batch of events", 0)
                }
                let now = Self.monotonicNanoseconds()
                if let problem = tail.makeRoom(now: now) { throw LogError("cannot checkpoint the log: \(problem)", 0) }
                let batch = TailLayer(after: number - 1)
                var outcomes: [WriteOutcome] = []
                try evaluate(writes, in: tail, into: batch, sequence: number, outcomes: &outcomes)
                tail.absorb(batch, now: now)
                events += writes.count
            }
            if log.next - 1 > start {
                logger.info(
                    "event log replayed into the tail",
                    metadata: ["records": "\(log.next - 1 - start)", "events": "\(events)"])
                tail.freezeIfIdle()
            }
            return tail
        } catch {
            if let started {
                started.crash()  // nothing more of it reaches the disk
                started.stop()
            } else {
                Glibc.close(lockFD)
            }
            throw error
        }
    }

    /// `WriteRules` over the tail and an LMDB snapshot: the batch's changes go into `batch`.
    func evaluate(
        _ writes: [Write], in tail: LogTail, into batch: TailLayer, sequence: UInt64, outcomes: inout [WriteOutcome]
    ) throws {
        try read { txn in
            let layers = tail.layers(checkpointed: try checkpointed(txn))
            let t = try TailTransaction(
                lmdb: LMDBReads(store: self, txn: txn), tail: layers, batch: batch, sequence: sequence)
            for write in writes { outcomes.append(try WriteRules.apply(write, in: t)) }
        }
    }

    /// A store opened without the log (a tool) that shares its data directory with the log's
    /// writes: when no relay holds the log, what it holds past the last checkpoint is put into
    /// LMDB now; when a relay does, the relay is asked (through LMDB) for a checkpoint up to the
    /// log's last record, and this waits for it (at most `timeout` seconds). Either way, LMDB
    /// then holds every event a relay had acknowledged.
    public func catchUpWithLog(timeout: Double = 60) throws {
        guard tail == nil, access(path + "/log", F_OK) == 0 else { return }
        let lockFD = try Self.lockDataDirectory(path)
        if lockFD >= 0 {
            defer { Glibc.close(lockFD) }
            _ = try replayLog(segmentBytes: LogOptions().segmentBytes, chunkEvents: LogOptions().checkpointChunkEvents)
            return
        }
        let target = try EventLog.lastRecord(in: path + "/log")
        guard try read({ try checkpointed($0) }) < target else { return }
        try lmdbWrite { txn in try txn.put(dbs.meta, Self.checkpointRequestKey, IndexKeys.serial(target)) }
        let deadline = Self.monotonicNanoseconds() + UInt64(timeout * 1e9)
        while try read({ try checkpointed($0) }) < target {
            guard Self.monotonicNanoseconds() < deadline else {
                throw LogError("the relay serving from \(path) did not checkpoint its log within \(Int(timeout)) s", 0)
            }
            usleep(20_000)
        }
    }

    /// A store without the log, caught up with what a log in its directory holds.
    public static func openCaughtUp(path: String, options: StoreOptions, logger: Logger) throws -> EventStore {
        let store = try EventStore(path: path, options: options, logger: logger)
        do {
            try store.catchUpWithLog()
        } catch {
            store.close()
            throw error
        }
        return store
    }

    /// The relay's side of `catchUpWithLog`: whether a tool asked for a checkpoint past the last.
    func checkpointRequested(after checkpointed: UInt64) -> Bool {
        let asked = try? read { txn in
            try txn.getBytes(dbs.meta, Self.checkpointRequestKey).map { b in
                b.count == 8 ? b.withUnsafeBytes { IndexKeys.readUInt64($0, at: 0) } : 0
            }
        }
        return (asked ?? nil).map { $0 > checkpointed } ?? false
    }

    /// Opens the log and puts its records past LMDB's checkpoint into LMDB, in transactions of
    /// about `chunkEvents` events (whole records); the segments that held them are then removed.
    /// The caller holds the data directory's lock.
    private func replayLog(segmentBytes: Int, chunkEvents: Int) throws -> EventLog {
        do {
            let start = try read { try checkpointed($0) }
            let log = try EventLog(directory: path + "/log", first: start + 1, segmentLimit: segmentBytes) {
                [logger] problem in
                logger.warning("event log repaired", metadata: ["problem": "\(problem)"])
            }
            var records: [(UInt64, [Write])] = []
            var events = 0
            try log.replay(from: start + 1) { number, payload in
                guard let batch = LogRecord.decode(payload) else {
                    throw LogError("log record \(number) does not hold a batch of events", 0)
                }
                records.append((number, batch))
                events += batch.count
                if events >= chunkEvents {
                    try applyToLMDB(records.flatMap(\.1), through: number, faults: nil)
                    records.removeAll()
                    events = 0
                }
            }
            if let last = records.last?.0 { try applyToLMDB(records.flatMap(\.1), through: last, faults: nil) }
            if log.next - 1 > start {
                logger.info("event log replayed into the store", metadata: ["records": "\(log.next - 1 - start)"])
            }
            try EventLog.removeSegments(in: log.directory, before: log.next)
            return log
        }
    }

    /// An exclusive lock on `<data>/log.lock` (one process writes a data directory's log): its
    /// descriptor, or -1 when another process holds it.
    private static func lockDataDirectory(_ path: String) throws -> Int32 {
        let fd = open(path + "/log.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LogError("cannot open \(path)/log.lock", errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            Glibc.close(fd)
            if code == EWOULDBLOCK { return -1 }
            throw LogError("cannot lock \(path)/log.lock", code)
        }
        return fd
    }

    /// A checkpoint: the layer's writes into LMDB, then the log segments it makes unneeded. The
    /// writes go in transactions of about `checkpointChunkEvents` events, each ending with a
    /// whole log record whose number it records: LMDB keeps the pages a transaction dirtied for
    /// later ones, so the largest transaction sets the memory it holds from then on.
    func checkpoint(_ layer: TailLayer, of tail: LogTail, faults: StoreFaults?) throws {
        let events = layer.events
        var start = 0
        while start < events.count {
            var end = min(events.count, start + tail.options.checkpointChunkEvents)
            while end < events.count && events[end].sequence == events[end - 1].sequence { end += 1 }
            try applyToLMDB(
                events[start..<end].map(TailTransaction.decodedWrite), through: events[end - 1].sequence,
                faults: faults, of: tail)
            start = end
        }
        if faults?.crashes(at: .afterCheckpoint) == true {
            tail.crash()
            throw SimulatedCrash()
        }
        try EventLog.removeSegments(in: tail.log.directory, before: layer.lastSequence + 1) {
            if faults?.crashes(at: .duringTruncation) == true {
                tail.crash()
                throw SimulatedCrash()
            }
        }
    }

    /// Applies `writes` in order by the NIP rules in one synced LMDB transaction, which records
    /// `through` as the last log record LMDB holds.
    func applyToLMDB(_ writes: [Write], through: UInt64, faults: StoreFaults?, of tail: LogTail? = nil) throws {
        try lmdbWrite { txn in
            try refreshWriterState(txn)
            let t = LMDBWriteTransaction(store: self, txn: txn)
            for (i, write) in writes.enumerated() {
                if i == writes.count / 2, let tail, faults?.crashes(at: .midCheckpoint) == true {
                    tail.crash()
                    throw SimulatedCrash()
                }
                _ = try WriteRules.apply(write, in: t)
            }
            try indexBatch.flush(into: txn, dbs)
            try txn.put(dbs.meta, Self.checkpointKey, IndexKeys.serial(through))
        }
    }

    /// A batch on the log: the rules read the tail and LMDB; the stored writes go into one log
    /// record (one write, one fdatasync), then into the tail; only then are they answered.
    func commitLogged(_ tail: LogTail, _ writes: [Write], outcomes: inout [WriteOutcome], sequences: inout [UInt64]) {
        func fail(_ why: String) {
            outcomes.removeAll(keepingCapacity: true)
            for _ in writes { outcomes.append(.failed(why)) }
            sequences = Array(repeating: 0, count: writes.count)
        }
        guard !tail.crashed else { return fail("storage error: the store stopped") }
        let now = EventStore.monotonicNanoseconds()
        if let problem = tail.makeRoom(now: now) { return fail("storage error: \(problem)") }
        let sequence = tail.log.next
        let batch = TailLayer(after: sequence - 1)
        do {
            try evaluate(writes, in: tail, into: batch, sequence: sequence, outcomes: &outcomes)
        } catch {
            return fail("storage error: \(error)")
        }
        if !batch.isEmpty {
            do {
                try tail.log.append([LogRecord.encode(batch.events)])
            } catch {
                let full = (error as? LogError)?.code == ENOSPC || filesystemIsFull
                let why = full ? "storage is full" : "storage error: \(error)"
                for i in outcomes.indices where outcomes[i].isStored { outcomes[i] = .failed(why) }
                for _ in writes { sequences.append(0) }
                return
            }
            if tail.options.faults?.crashes(at: .afterAppend) == true {
                tail.crash()
                return fail("storage error: the store stopped")
            }
            tail.absorb(batch, now: now)
        }
        for _ in writes { sequences.append(batch.lastSequence) }
    }

    /// The tail as a reader sees it beside its LMDB snapshot `txn`, and the snapshot's sequence;
    /// the views must have been taken before the snapshot was opened.
    func tailSnapshot(_ views: [TailView], _ txn: LMDBTransaction) throws -> (TailSnapshot, UInt64) {
        let checkpointed = try checkpointed(txn)
        let layers = views.filter { $0.lastSequence > checkpointed }
        return (
            TailSnapshot(layers: layers, checkpointed: checkpointed), max(checkpointed, views.first?.lastSequence ?? 0)
        )
    }

    static func monotonicNanoseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }
}

/// A fault point stopped the store (tests).
struct SimulatedCrash: Error, CustomStringConvertible {
    var description: String { "simulated crash" }
}

#if canImport(Glibc)
    import Glibc
#endif
