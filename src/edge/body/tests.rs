use super::*;
use futures::executor::block_on;
use futures::stream;
use std::cell::Cell;

fn chunks(sizes: &[usize]) -> impl Stream<Item = Result<Vec<u8>, &'static str>> + '_ {
    stream::iter(sizes.iter().map(|&n| Ok(vec![b'x'; n])))
}

#[test]
fn reads_a_body_up_to_the_cap() {
    assert_eq!(block_on(read_capped(chunks(&[]), 10)), Ok(vec![]));
    assert_eq!(block_on(read_capped(chunks(&[4, 6]), 10)).map(|b| b.len()), Ok(10));
    assert_eq!(block_on(read_capped(chunks(&[0, 3, 0]), 3)).map(|b| b.len()), Ok(3));
}

#[test]
fn refuses_one_byte_over_the_cap() {
    assert_eq!(block_on(read_capped(chunks(&[4, 7]), 10)), Err(ReadError::TooLarge));
    assert_eq!(block_on(read_capped(chunks(&[11]), 10)), Err(ReadError::TooLarge));
    assert_eq!(block_on(read_capped(chunks(&[1]), 0)), Err(ReadError::TooLarge));
}

#[test]
fn stops_reading_an_endless_body_at_the_cap() {
    let pulled = Cell::new(0usize);
    let endless = stream::repeat_with(|| {
        pulled.set(pulled.get() + 1);
        Ok::<_, ()>(vec![0u8; 1000])
    });
    assert_eq!(block_on(read_capped(endless, 10_500)), Err(ReadError::TooLarge));
    // 10 chunks fit, the 11th goes over: nothing after it is pulled.
    assert_eq!(pulled.get(), 11);
}

#[test]
fn passes_on_a_stream_failure() {
    let failing = stream::iter([Ok(vec![1u8]), Err("connection reset"), Ok(vec![2u8])]);
    assert_eq!(
        block_on(read_capped(failing, 10)),
        Err(ReadError::Stream("connection reset"))
    );
}

#[test]
fn a_declared_length_over_the_cap_is_refused_before_reading() {
    assert!(declared_too_large(Some("11"), 10));
    assert!(declared_too_large(Some(" 18446744073709551615 "), 10));
    // Beyond u64: unparsable, so the streaming cap decides.
    assert!(!declared_too_large(Some("99999999999999999999"), 10));
    assert!(!declared_too_large(Some("10"), 10));
    assert!(
        !declared_too_large(Some("banana"), 10),
        "unparsable: the streaming cap decides"
    );
    assert!(!declared_too_large(None, 10));
}
