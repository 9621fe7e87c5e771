import NostrCore

/// An event that passed validation, with the JSON the relay stores and sends for it.
public struct ValidEvent: Sendable {
    public let event: Event
    public let json: [UInt8]
}

/// Validation: shape limits, created_at window, id = SHA-256 of the canonical form, BIP-340
/// signature, NIP-40 expiry on arrival. JSON shape and hex were checked by the parser.
public struct ValidationService: Sendable {
    public let limits: Limits

    public init(limits: Limits) {
        self.limits = limits
    }

    public func validate(_ event: Event, now: Int64) -> Result<ValidEvent, Rejection> {
        var scratch: [UInt8] = []
        return validate(event, now: now, scratch: &scratch)
    }

    /// `scratch` is a reusable buffer for the canonical serialization.
    public func validate(_ event: Event, now: Int64, scratch: inout [UInt8]) -> Result<ValidEvent, Rejection> {
        if event.tags.count > limits.maxEventTags {
            return .failure(.invalid("too many tags (max \(limits.maxEventTags))"))
        }
        if event.content.unicodeScalars.count > limits.maxContentLength {
            return .failure(.invalid("content is longer than \(limits.maxContentLength) characters"))
        }
        if event.createdAt > now + limits.createdAtUpperLimit {
            return .failure(.invalid("event creation date is too far in the future"))
        }
        if limits.createdAtLowerLimit > 0 && event.createdAt < now - limits.createdAtLowerLimit {
            return .failure(.invalid("event creation date is too far in the past"))
        }
        if let rejection = verifyIdentity(event, scratch: &scratch) { return .failure(rejection) }
        if let expiration = event.expiration, expiration <= now {
            return .failure(.invalid("event has expired"))
        }
        let json = event.jsonBytes
        if json.count > limits.maxEventSize {
            return .failure(.invalid("event is larger than \(limits.maxEventSize) bytes"))
        }
        return .success(ValidEvent(event: event, json: json))
    }

    /// The id is the SHA-256 of the canonical form and the BIP-340 signature verifies: the one
    /// check of who made an event, for EVENT and AUTH messages alike.
    /// The same check, with the author's key parsed once per `keys` (bulk imports).
    public func verifyIdentity(_ event: Event, scratch: inout [UInt8], keys: inout Schnorr.PublicKeyCache)
        -> Rejection?
    {
        if EventID.compute(event, scratch: &scratch) != event.id {
            return .invalid("event id does not match the hash of the event")
        }
        if !Schnorr.verify(event, cache: &keys) {
            return .invalid("signature verification failed")
        }
        return nil
    }

    public func verifyIdentity(_ event: Event, scratch: inout [UInt8]) -> Rejection? {
        if EventID.compute(event, scratch: &scratch) != event.id {
            return .invalid("event id does not match the hash of the event")
        }
        if !Schnorr.verify(event) {
            return .invalid("signature verification failed")
        }
        return nil
    }
}
