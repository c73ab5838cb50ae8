use super::*;

/// The size of what a two-argument function returns, from the function
/// alone (no value needed, so no call has to be built).
fn returned_size<A, B, F>(_: fn(A, B) -> F) -> usize {
    std::mem::size_of::<F>()
}

/// The call task's future is most of a live call's memory: it must hold the
/// `Call` once (an `async fn run(self, ..)` held it twice, as its argument
/// and as the body's local).
#[test]
fn run_future_holds_the_call_once() {
    let call = std::mem::size_of::<Call>();
    let future = returned_size(Call::run);
    assert!(
        future < call + call / 2,
        "the call task's future is {future} bytes for a {call}-byte Call"
    );
}
