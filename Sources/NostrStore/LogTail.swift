import EventStorage
import NIOConcurrencyHelpers

/// The event log and the writes it holds that LMDB does not hold yet (the tail), in two layers:
/// `active`, which the writer adds each committed batch to, and `frozen`, which the checkpoint
/// thread is putting into LMDB. The writer owns both; readers take their views under `lock`.
final class LogTail: @unchecked Sendable {
    let log: EventLog
    let options: LogOptions
    /// Guards the layers as readers see them (the writer changes them only under it).
    private let lock = NIOLock()
    /// Writer thread only (changed under `lock`).
    private(set) var active: TailLayer
    private(set) var frozen: TailLayer?
    /// True while the checkpoint thread has something to do: a layer, or the stop.
    private let work = ConditionLock<Bool>(value: false)
    /// Guarded by `work`.
    private var submitted: TailLayer?
    private var stopping = false
    private var checkpointedThrough: UInt64
    private var failure: String?
    private let thread = LoopThread()
    /// Set once a fault point "crashed" the store (tests): nothing more reaches the disk.
    private let crashedFlag = NIOLockedValueBox(false)
    /// The descriptor holding the data directory's lock, so that two relays never share a log.
    private let lockFD: Int32

    init(log: EventLog, options: LogOptions, checkpointed: UInt64, lockFD: Int32) {
        self.log = log
        self.options = options
        self.lockFD = lockFD
        checkpointedThrough = checkpointed
        active = TailLayer(after: checkpointed)
    }

    /// Starts the checkpoint thread; `apply` puts a layer into LMDB in one transaction.
    func start(apply: @escaping @Sendable (TailLayer) throws -> Void, failed: @escaping @Sendable (String) -> Void) {
        thread.start { [self] in run(apply: apply, failed: failed) }
    }

    private func run(apply: (TailLayer) throws -> Void, failed: (String) -> Void) {
        while true {
            work.lock(whenValue: true)
            guard let layer = submitted, !crashed else {
                work.unlock(withValue: true)
                return  // stopping, with nothing left (or crashed)
            }
            work.unlock(withValue: true)
            do {
                try apply(layer)
                work.lock()
                submitted = nil
                checkpointedThrough = layer.lastSequence
                failure = nil
                work.unlock(withValue: stopping)
            } catch {
                work.lock()
                failure = "\(error)"
                let stop = stopping
                work.unlock(withValue: true)
                if crashed { return }
                failed("\(error)")
                if stop { return }  // the log keeps the layer; the next start replays it
                _ = work.lock(whenValue: false, timeoutSeconds: 1)  // never true: a pause
            }
        }
    }

    var crashed: Bool { crashedFlag.withLockedValue { $0 } }

    func crash() { crashedFlag.withLockedValue { $0 = true } }

    // MARK: the writer's side

    /// Drops the frozen layer once its checkpoint is done; freezes the active one when it is old
    /// or large enough and no checkpoint is running.
    /// After a burst, a tail of many events is frozen once writes pause for a second: every
    /// query scans the tail, so it should not stay long. (A trickle's few events wait for the
    /// interval, so that each checkpoint still takes many.)
    func maintain(now: UInt64) {
        if let frozen, isCheckpointed(frozen) { lock.withLock { self.frozen = nil } }
        guard frozen == nil, !active.isEmpty else { return }
        let age = Double(now &- active.startedAt) / 1e9
        let idle = Double(now &- lastAbsorbed) / 1e9
        if active.jsonBytes >= options.checkpointBytes || age >= options.checkpointSeconds
            || (idle >= 1 && active.events.count >= Self.burst)
        {
            freeze()
        }
    }

    /// A tail of this many events is a burst (see `maintain`).
    static let burst = 512
    /// When the writer last added a batch (monotonic nanoseconds).
    private var lastAbsorbed: UInt64 = 0

    /// Before a batch: while the tail is at its cap, waits for the running checkpoint. Returns
    /// the checkpoint's failure when it cannot finish (the batch is refused, not held).
    func makeRoom(now: UInt64) -> String? {
        maintain(now: now)
        guard active.jsonBytes + (frozen?.jsonBytes ?? 0) >= options.maxTailBytes else { return nil }
        if let problem = waitForCheckpoint() { return problem }
        maintain(now: now)
        if frozen == nil && !active.isEmpty { freeze() }
        return nil
    }

    /// Puts every write of the tail into LMDB before returning (an operator's ban, closing).
    func flush() -> String? {
        if let problem = waitForCheckpoint() { return problem }
        maintain(now: 0)
        if !active.isEmpty { freeze() }
        if let problem = waitForCheckpoint() { return problem }
        maintain(now: 0)
        return nil
    }

    /// When the writer last looked for a tool's checkpoint request (monotonic nanoseconds).
    private var lookedForRequests: UInt64 = 0

    func dueToLookForRequests(now: UInt64) -> Bool {
        guard now &- lookedForRequests >= 250_000_000 else { return false }
        lookedForRequests = now
        return true
    }

    /// The last record LMDB holds, as far as this process knows.
    var checkpointedSoFar: UInt64 {
        work.lock()
        defer { work.unlock() }
        return checkpointedThrough
    }

    /// Neither layer holds a write.
    var isEmpty: Bool { active.isEmpty && frozen == nil }

    /// Records that LMDB holds the log up to `sequence` (never moving back).
    func checkpointed(through sequence: UInt64) {
        work.lock()
        checkpointedThrough = max(checkpointedThrough, sequence)
        work.unlock()
    }

    /// Freezes the active layer now unless a checkpoint is running (the next pause then does).
    func freezeIfIdle() {
        if frozen == nil && !active.isEmpty { freeze() }
    }

    private func freeze() {
        let layer = active
        lock.withLock {
            frozen = layer
            active = TailLayer(after: layer.lastSequence)
        }
        work.lock()
        submitted = layer
        work.unlock(withValue: true)
    }

    private func isCheckpointed(_ layer: TailLayer) -> Bool {
        work.lock()
        defer { work.unlock() }
        return checkpointedThrough >= layer.lastSequence
    }

    /// Waits until no checkpoint is pending; its failure if it failed.
    private func waitForCheckpoint() -> String? {
        while true {
            work.lock()
            let (pending, problem) = (submitted != nil, failure)
            work.unlock()
            if !pending { return nil }
            if let problem { return problem }
            if crashed { return "the store stopped" }
            if work.lock(whenValue: false, timeoutSeconds: 0.1) { work.unlock() }
        }
    }

    /// Whether an event of the tail has expired by `now` (NIP-40; the sweep then checkpoints).
    func holdsExpired(now: Int64) -> Bool {
        for layer in [active] + (frozen.map { [$0] } ?? []) {
            for stored in layer.events {
                if let expiration = stored.expiration, expiration <= now { return true }
            }
        }
        return false
    }

    /// The layers a batch's rules read, given the checkpoint its LMDB snapshot holds.
    func layers(checkpointed: UInt64) -> [TailLayer] {
        if let frozen, frozen.lastSequence > checkpointed { return [active, frozen] }
        return [active]
    }

    /// Takes a committed batch into the active layer.
    func absorb(_ batch: TailLayer, now: UInt64) {
        lock.withLock { active.absorb(batch, now: now) }
        lastAbsorbed = now
    }

    // MARK: readers' side

    /// The layers' views, newest first (the caller then opens its LMDB snapshot and keeps those
    /// past the snapshot's checkpoint).
    func views() -> [TailView] {
        lock.withLock {
            if let frozen { return [active.view, frozen.view] }
            return [active.view]
        }
    }

    /// Writes the tail and the checkpoint thread; events not yet in LMDB count as stored.
    var heldBytes: Int { lock.withLock { active.jsonBytes + (frozen?.jsonBytes ?? 0) } }

    /// Stops the checkpoint thread once it has done what it was given.
    func stop() {
        work.lock()
        stopping = true
        work.unlock(withValue: true)
        thread.join {}
        if lockFD >= 0 { close(lockFD) }
    }
}

#if canImport(Glibc)
    import Glibc
#endif
