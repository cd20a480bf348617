//! Token budgets: a call is charged its estimate before it starts (there is nothing else to go
//! on) and corrected by its real usage when it ends, so the budget tracks what the vendor
//! counts.

use concord::{ContentPart, Message, Request, RuntimeContext, Usage};

/// A prompt's token estimate: its text's bytes / 4, plus the output cap (or 256).
pub(crate) fn estimate(request: &Request, ctx: &RuntimeContext) -> u32 {
    let bytes: usize = request
        .messages
        .iter()
        .map(|m| match m {
            Message::System { content } | Message::Tool { content, .. } => content.len(),
            Message::Assistant { content, .. } => content.len(),
            Message::User { content } => content
                .iter()
                .map(|p| match p {
                    ContentPart::Text { text } => text.len(),
                    // An image costs the vendor a few hundred tokens whatever its size.
                    _ => 1024,
                })
                .sum(),
        })
        .sum();
    let output = request
        .params
        .max_output_tokens
        .or(ctx.settings.max_output_tokens)
        .unwrap_or(256);
    u32::try_from(bytes / 4)
        .unwrap_or(u32::MAX)
        .saturating_add(output)
}

/// What a call really used, when its usage says (input and output both known).
pub(crate) fn used(usage: &Usage) -> Option<u64> {
    Some(usage.input_tokens? + usage.output_tokens?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_a_quarter_of_the_bytes_plus_the_output_cap() {
        let ctx = RuntimeContext::new();
        assert_eq!(estimate(&Request::user("x".repeat(400)), &ctx), 100 + 256);
        let mut capped = Request::user("x".repeat(40));
        capped.params.max_output_tokens = Some(16);
        assert_eq!(estimate(&capped, &ctx), 10 + 16);
        assert_eq!(used(&Usage::new(Some(3), Some(4))), Some(7));
        assert_eq!(used(&Usage::new(None, Some(4))), None);
    }
}
