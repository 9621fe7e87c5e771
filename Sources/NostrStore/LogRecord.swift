import EventStorage
import NostrCore

/// The payload of one event-log record: the stored writes of one batch, in order. Each is its
/// action (one byte: insert, replace, delete, vanish) and its JSON (length, four bytes little
/// endian, then the bytes). A replace's address is its event's own, so it is not written.
public enum LogRecord {
    static func encode(_ writes: [TailEvent]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(writes.reduce(0) { $0 + 5 + $1.json.count })
        for stored in writes { append(stored.action, stored.json, to: &out) }
        return out
    }

    /// The payload of `writes` (tests and the fuzz target; the store encodes its tail's).
    public static func encode(_ writes: [Write]) -> [UInt8] {
        var out: [UInt8] = []
        for write in writes { append(write.action, write.json, to: &out) }
        return out
    }

    private static func append(_ action: WriteAction, _ json: [UInt8], to out: inout [UInt8]) {
        let code: UInt8
        switch action {
        case .insert: code = 0
        case .replace: code = 1
        case .delete: code = 2
        case .vanish: code = 3
        }
        out.append(code)
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
    }

    /// The writes of a payload; nil if any part of it is malformed (a record that passed its
    /// checksum but does not hold what this code writes).
    public static func decode(_ payload: UnsafeRawBufferPointer) -> [Write]? {
        var writes: [Write] = []
        var at = 0
        while at < payload.count {
            guard payload.count - at >= 5 else { return nil }
            let action = payload[at]
            var length = 0
            for i in 0..<4 { length |= Int(payload[at + 1 + i]) << (8 * i) }
            at += 5
            guard length <= payload.count - at else { return nil }
            let json = Array(payload[at..<(at + length)])
            at += length
            guard let event = json.withUnsafeBufferPointer({ Event.decode(json: $0) }) else { return nil }
            switch action {
            case 0: writes.append(Write(.insert, event, json: json))
            case 1:
                guard event.kindClass == .replaceable || event.kindClass == .addressable else { return nil }
                writes.append(Write(.replace(Address(of: event)), event, json: json))
            case 2: writes.append(Write(.delete, event, json: json))
            case 3: writes.append(Write(.vanish, event, json: json))
            default: return nil
            }
        }
        return writes
    }
}
