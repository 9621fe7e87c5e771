import Dispatch
import EventStorage
import NIOConcurrencyHelpers
import NostrCore
import RelayCore

#if canImport(Glibc)
    import Glibc
#endif

/// What an import did with each line.
struct ImportSummary {
    var lines = 0
    var accepted = 0
    var duplicate = 0
    /// Accepted in place of an older version of the same replaceable or addressable event.
    var replaced = 0
    /// Not stored: a newer version of the same replaceable or addressable event is.
    var superseded = 0
    /// Deleted by its author before (NIP-09) or its author vanished (NIP-62).
    var deleted = 0
    /// Ephemeral kinds and expired events (NIP-40) are not stored.
    var ephemeral = 0
    var expired = 0
    /// Invalid lines, by reason.
    var invalid: [String: Int] = [:]
    /// The store refused a batch (disk full, I/O error): the import stopped there.
    var failure: String?
    var seconds = 0.0

    var invalidCount: Int { invalid.values.reduce(0, +) }
}

/// `tern import`: reads JSONL, checks each event (id and signature unless told not to), and
/// commits them through the store's NIP rules (duplicates, replaceable versions, deletions,
/// vanish) in large batches, one transaction each.
///
/// A pipeline of three stages over bounded buffers: this thread reads up to `chunk` bytes of
/// whole lines; the lines are checked on every core at once (`concurrentPerform`); the checked
/// batch goes to one commit thread while the next chunk is read and checked. At most two
/// batches wait for the commit thread, so memory stays at a few chunks whatever the file's size.
final class Importer: Sendable {
    let storage: any EventStorage
    let verify: Bool
    let chunk: Int
    let maxLine: Int
    let now: Int64
    /// Invalid lines reported one by one on standard error before only counting them.
    let reportLimit: Int
    let workers: Int

    init(
        storage: any EventStorage, verify: Bool, now: Int64, chunk: Int = 4 << 20, maxLine: Int = 16 << 20,
        reportLimit: Int = 100, workers: Int = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    ) {
        self.storage = storage
        self.verify = verify
        self.now = now
        self.chunk = chunk
        self.maxLine = maxLine
        self.reportLimit = reportLimit
        self.workers = workers
    }

    /// One line after its check.
    enum Checked {
        case write(Write)
        case invalid(String)
        case ephemeral
        case expired
        case blank
    }

    /// Reads `fd` to its end. `progress` sees input bytes read and lines handled.
    func run(fd: Int32, progress: Progress) -> ImportSummary {
        var summary = ImportSummary()
        let commits = DispatchQueue(label: "tern.import.commit")
        let slots = DispatchSemaphore(value: 2)
        let committed = CommitTally()
        var buffer: [UInt8] = []
        buffer.reserveCapacity(chunk)
        var block = [UInt8](repeating: 0, count: 1 << 20)  // what each read(2) lands in
        var bytesRead = 0
        var lineNumber = 0
        var reported = 0
        var atEOF = false
        var skippingLongLine = false
        // Each checking worker's parsed authors' keys, kept from chunk to chunk.
        var keys = [Schnorr.PublicKeyCache](repeating: Schnorr.PublicKeyCache(), count: workers)

        while !atEOF && committed.failure == nil {
            // Fill the buffer to `chunk` bytes (more when one line is longer).
            let want = max(chunk, buffer.count + 65536)
            let n = Self.fill(&buffer, upTo: want, from: fd, through: &block)
            if n < 0 {
                summary.failure = "read error: \(String(cString: strerror(errno)))"
                break
            }
            atEOF = n == 0
            bytesRead += n
            // Whole lines (and, at the end of the input, the last line without a newline).
            var lines: [(range: Range<Int>, number: Int)] = []
            var start = 0
            buffer.withUnsafeBytes { bytes in
                guard let base = bytes.baseAddress else { return }
                while start < bytes.count, let found = memchr(base + start, 0x0A, bytes.count - start) {
                    let i = UnsafeRawPointer(found) - base
                    lineNumber += 1
                    if skippingLongLine {
                        skippingLongLine = false
                    } else {
                        lines.append((start..<i, lineNumber))
                    }
                    start = i + 1
                }
            }
            if atEOF && start < buffer.count && !skippingLongLine {
                lineNumber += 1
                lines.append((start..<buffer.count, lineNumber))
                start = buffer.count
            }
            if !atEOF && start == 0 && buffer.count >= maxLine {
                // One line longer than any event may be: report it, skip to its end.
                lineNumber += 1
                lines.append((0..<0, lineNumber))
                skippingLongLine = true
                start = buffer.count
            }
            let checked = check(buffer, lines, keys: &keys)
            for (index, result) in checked.enumerated() {
                switch result {
                case .invalid(let reason):
                    summary.invalid[reason, default: 0] += 1
                    if reported < reportLimit {
                        reported += 1
                        Progress.write("line \(lines[index].number): invalid: \(reason)\n")
                        if reported == reportLimit {
                            Progress.write("(further invalid lines are counted, not shown)\n")
                        }
                    }
                case .ephemeral: summary.ephemeral += 1
                case .expired: summary.expired += 1
                case .write, .blank: break
                }
            }
            summary.lines += lines.count - checked.reduce(0) { if case .blank = $1 { $0 + 1 } else { $0 } }
            let writes = checked.compactMap { if case .write(let w) = $0 { w } else { nil } }
            buffer.removeSubrange(0..<start)
            if skippingLongLine { buffer.removeAll(keepingCapacity: true) }
            if !writes.isEmpty {
                slots.wait()
                let storage = storage
                commits.async {
                    committed.commit(writes, to: storage)
                    slots.signal()
                }
            }
            progress.update(done: bytesRead, events: summary.lines)
        }
        commits.sync {}
        progress.finish(done: bytesRead, events: summary.lines)
        committed.add(to: &summary)
        if summary.failure == nil { summary.failure = committed.failure }
        summary.seconds = progress.elapsed
        return summary
    }

    /// Checks the lines on every core. Each worker takes every `workers`-th line with its own
    /// scratch buffer; results land in their line's slot.
    func check(
        _ buffer: [UInt8], _ lines: [(range: Range<Int>, number: Int)], keys: inout [Schnorr.PublicKeyCache]
    ) -> [Checked] {
        var results = [Checked](repeating: .blank, count: lines.count)
        let workers = min(self.workers, max(1, lines.count / 64))
        let validation = ValidationService(limits: Limits())
        /// The input and the results, shared by the workers: each writes only its own lines' slots.
        struct Shared: @unchecked Sendable {
            let bytes: UnsafeBufferPointer<UInt8>
            let out: UnsafeMutableBufferPointer<Checked>
            let keys: UnsafeMutableBufferPointer<Schnorr.PublicKeyCache>
        }
        let ranges = lines.map(\.range)
        buffer.withUnsafeBufferPointer { bytes in
            results.withUnsafeMutableBufferPointer { out in
                keys.withUnsafeMutableBufferPointer { keys in
                    let shared = Shared(bytes: bytes, out: out, keys: keys)
                    DispatchQueue.concurrentPerform(iterations: workers) { worker in
                        var scratch: [UInt8] = []
                        var i = worker
                        while i < ranges.count {
                            shared.out[i] = self.checkLine(
                                UnsafeBufferPointer(rebasing: shared.bytes[ranges[i]]), validation, &scratch,
                                &shared.keys[worker])
                            i += workers
                        }
                    }
                }
            }
        }
        return results
    }

    private func checkLine(
        _ line: UnsafeBufferPointer<UInt8>, _ validation: ValidationService, _ scratch: inout [UInt8],
        _ keys: inout Schnorr.PublicKeyCache
    ) -> Checked {
        if line.isEmpty && line.baseAddress == nil { return .invalid("line longer than \(maxLine) bytes") }
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return .blank }
        let event: Event
        switch EventReader.read(line) {
        case .success(let e): event = e
        case .failure(let failure): return .invalid(failure.reason)
        }
        if verify, let rejection = validation.verifyIdentity(event, scratch: &scratch, keys: &keys) {
            return .invalid(rejection.detail)
        }
        if event.kindClass == .ephemeral { return .ephemeral }
        if let expiration = event.expiration, expiration <= now { return .expired }
        return .write(Write.byKind(event))
    }

    /// Appends up to `limit - buffer.count` bytes read from `fd`; returns the count (0 at the
    /// end, -1 on an error).
    static func fill(_ buffer: inout [UInt8], upTo limit: Int, from fd: Int32, through block: inout [UInt8]) -> Int {
        var total = 0
        while buffer.count < limit {
            let want = min(block.count, limit - buffer.count)
            let n = block.withUnsafeMutableBytes { read(fd, $0.baseAddress, want) }
            if n < 0 {
                if errno == EINTR { continue }
                return -1
            }
            if n == 0 { break }
            buffer.append(contentsOf: block[0..<n])
            total += n
        }
        return total
    }
}

/// The commit thread's counts, read after it has finished; its failure, read by the reading
/// thread meanwhile (under a lock), stops the import.
private final class CommitTally: @unchecked Sendable {
    private var accepted = 0
    private var duplicate = 0
    private var replaced = 0
    private var superseded = 0
    private var deleted = 0
    private let failed = NIOLockedValueBox<String?>(nil)
    private var outcomes: [WriteOutcome] = []
    private var sequences: [UInt64] = []

    var failure: String? { failed.withLockedValue { $0 } }

    func commit(_ writes: [Write], to storage: any EventStorage) {
        guard failure == nil else { return }
        outcomes.removeAll(keepingCapacity: true)
        sequences.removeAll(keepingCapacity: true)
        storage.commit(writes, outcomes: &outcomes, sequences: &sequences)
        for outcome in outcomes {
            switch outcome {
            case .saved: accepted += 1
            case .replaced:
                accepted += 1
                replaced += 1
            case .duplicate: duplicate += 1
            case .obsolete: superseded += 1
            case .deleted: deleted += 1
            case .failed(let why): failed.withLockedValue { $0 = $0 ?? why }
            }
        }
    }

    func add(to summary: inout ImportSummary) {
        summary.accepted += accepted
        summary.duplicate += duplicate
        summary.replaced += replaced
        summary.superseded += superseded
        summary.deleted += deleted
    }
}
