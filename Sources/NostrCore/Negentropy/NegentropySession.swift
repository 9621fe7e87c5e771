/// One side of a negentropy reconciliation (protocol version 1) over a sorted set of items.
///
/// The client (`initiate`, then `reconcile` on each answer) learns which ids it has that the
/// server lacks and which it lacks; the server (`respond`) answers each message. A range whose
/// fingerprints differ is split into 16 buckets, or sent as an id list when it holds fewer than
/// 32 items. With a frame size limit, no message is longer: the ranges that did not fit are
/// sent back as one fingerprint, to be taken up in a later round.
public struct NegentropySession: Sendable {
    /// Sorted: oldest first, ties by lowest id; no item twice.
    public let items: [Negentropy.Item]
    /// The longest message this side writes, in bytes; 0 for no limit.
    public let frameSizeLimit: Int
    public private(set) var isInitiator = false

    static let buckets = 16
    static let idListThreshold = 2 * buckets

    public init(items: [Negentropy.Item], frameSizeLimit: Int = 0) {
        precondition(frameSizeLimit == 0 || frameSizeLimit >= 4096, "frame size limit too small")
        // A store lists its items in order already (one pass checks it); others are sorted.
        if zip(items, items.dropFirst()).allSatisfy({ $0 < $1 }) {
            self.items = items
        } else {
            var unique: [Negentropy.Item] = []
            unique.reserveCapacity(items.count)
            for item in items.sorted() where unique.last != item { unique.append(item) }
            self.items = unique
        }
        self.frameSizeLimit = frameSizeLimit
    }

    /// The client's first message, covering every item.
    public mutating func initiate() -> [UInt8] {
        isInitiator = true
        var out = NegentropyWriter()
        out.bytes.append(Negentropy.protocolVersion)
        split(0, items.count, upper: .infinity, into: &out)
        return out.bytes
    }

    /// The server's answer to a client's message. A message of another protocol version in the
    /// 0x60–0x6F range gets the single byte of the version this side speaks.
    public func respond(to message: [UInt8]) throws(Negentropy.Malformed) -> [UInt8] {
        var have: [Bytes32] = []
        var need: [Bytes32] = []
        return try process(message, initiator: false, have: &have, need: &need)
    }

    /// The client reads the server's answer: the ids only it has go to `have`, those only the
    /// server has to `need`. Returns the next message, or nil when reconciliation is complete.
    public mutating func reconcile(_ answer: [UInt8], have: inout [Bytes32], need: inout [Bytes32])
        throws(Negentropy.Malformed) -> [UInt8]?
    {
        precondition(isInitiator, "initiate first")
        let next = try process(answer, initiator: true, have: &have, need: &need)
        return next.count == 1 ? nil : next
    }

    private func process(_ message: [UInt8], initiator: Bool, have: inout [Bytes32], need: inout [Bytes32])
        throws(Negentropy.Malformed) -> [UInt8]
    {
        guard let version = message.first else { throw Negentropy.Malformed("empty message") }
        guard (0x60...0x6F).contains(version) else { throw Negentropy.Malformed("invalid protocol version byte") }
        var out = NegentropyWriter()
        out.bytes.append(Negentropy.protocolVersion)
        guard version == Negentropy.protocolVersion else {
            if initiator { throw Negentropy.Malformed("unsupported protocol version \(version - 0x60)") }
            return out.bytes
        }
        var input = NegentropyReader(message, from: 1)
        var previousBound = Negentropy.Bound(timestamp: 0)
        var previousIndex = 0
        var skipping = false  // a skip range waits to be written, up to `previousBound`
        /// Where the ranges written so far end: the index of the last bound in `out`.
        var writtenIndex = 0

        func flushSkip(_ out: inout NegentropyWriter) {
            guard skipping else { return }
            skipping = false
            out.bound(previousBound)
            out.mode(.skip)
            writtenIndex = previousIndex
        }

        while !input.atEnd {
            let mark = out.bytes.count
            let markIndex = writtenIndex
            let bound = try input.bound()
            let mode = try input.mode()
            let lower = previousIndex
            var upper = lowerBound(from: lower, bound)
            switch mode {
            case .skip:
                skipping = true
            case .fingerprint:
                let theirs = Array(try input.take(16))
                if theirs == fingerprint(lower, upper) {
                    skipping = true
                } else {
                    flushSkip(&out)
                    split(lower, upper, upper: bound, into: &out)
                    writtenIndex = upper
                }
            case .idList:
                let count = try input.varint()
                guard count <= UInt64(message.count / 32) else {
                    throw Negentropy.Malformed("id list longer than message")
                }
                var theirs = Set<Bytes32>(minimumCapacity: Int(count))
                for _ in 0..<count { theirs.insert(try input.id()) }
                if initiator {
                    for i in lower..<upper where theirs.remove(items[i].id) == nil { have.append(items[i].id) }
                    need.append(contentsOf: theirs.sorted())
                    skipping = true
                } else {
                    flushSkip(&out)
                    var ids: [UInt8] = []
                    var sent = 0
                    var end = bound
                    for i in lower..<upper {
                        if exceeds(out.bytes.count + ids.count + 64) {
                            end =
                                i > lower
                                ? Negentropy.Bound.between(items[i - 1], items[i])
                                : Negentropy.Bound(timestamp: items[i].timestamp, prefix: items[i].id.bytes)
                            upper = i
                            break
                        }
                        items[i].id.withBytes { ids.append(contentsOf: $0) }
                        sent += 1
                    }
                    out.bound(end)
                    out.mode(.idList)
                    Negentropy.appendVarint(UInt64(sent), to: &out.bytes)
                    out.bytes.append(contentsOf: ids)
                    writtenIndex = upper
                    if upper < lowerBound(from: lower, bound) {
                        // The list was cut at the frame size limit: the rest, from where it
                        // ends, is sent back as one fingerprint.
                        out.bound(.infinity)
                        out.mode(.fingerprint)
                        out.bytes.append(contentsOf: fingerprint(upper, items.count))
                        return out.bytes
                    }
                }
            }
            if exceeds(out.bytes.count) {
                // Past the frame size limit: what this range wrote goes, and everything from the
                // last range kept to the end is sent back as one fingerprint, for a later round.
                out.bytes.removeSubrange(mark...)
                out.bound(.infinity)
                out.mode(.fingerprint)
                out.bytes.append(contentsOf: fingerprint(markIndex, items.count))
                return out.bytes
            }
            previousIndex = upper
            previousBound = bound
        }
        return out.bytes
    }

    private func exceeds(_ size: Int) -> Bool { frameSizeLimit != 0 && size > frameSizeLimit - 200 }

    /// The first index at or after `from` whose item is not below `bound`.
    func lowerBound(from: Int, _ bound: Negentropy.Bound) -> Int {
        var low = from
        var high = items.count
        while low < high {
            let mid = (low + high) / 2
            if bound.isAbove(items[mid]) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    func fingerprint(_ lower: Int, _ upper: Int) -> [UInt8] {
        var accumulator = Negentropy.Accumulator()
        for i in lower..<upper { accumulator.add(items[i].id) }
        return accumulator.fingerprint
    }

    /// Writes the items in `lower..<upper` (up to `upper`) as an id list when few, else as 16
    /// fingerprinted buckets of nearly equal size.
    private func split(_ lower: Int, _ upper: Int, upper bound: Negentropy.Bound, into out: inout NegentropyWriter) {
        let count = upper - lower
        if count < Self.idListThreshold {
            out.bound(bound)
            out.mode(.idList)
            Negentropy.appendVarint(UInt64(count), to: &out.bytes)
            for i in lower..<upper { items[i].id.withBytes { out.bytes.append(contentsOf: $0) } }
            return
        }
        let each = count / Self.buckets
        let extra = count % Self.buckets
        var start = lower
        for bucket in 0..<Self.buckets {
            let end = start + each + (bucket < extra ? 1 : 0)
            let print = fingerprint(start, end)
            out.bound(end == upper ? bound : Negentropy.Bound.between(items[end - 1], items[end]))
            out.mode(.fingerprint)
            out.bytes.append(contentsOf: print)
            start = end
        }
    }
}
