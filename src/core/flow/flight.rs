//! Single flight per isolate: the requests of one session that find the same work due (a page
//! that fires 30 requests when its session needs a refresh) do it once. The first to arrive
//! leads: it does the work and lands the result; the others wait for that result instead of
//! doing the work again. The result stays for [`RETAIN_SECS`], so that a request still carrying
//! the old cookie a moment later gets the same answer (the new cookie) without any I/O.
//!
//! No `futures::Shared`, and no wakers across requests: in workerd a request may only be resumed
//! by its own I/O (a promise resolved from another request's context would run this request's
//! next subrequest "on behalf of a different request", and a request with nothing of its own
//! pending is cancelled as hung). So a waiting request polls the slot on its own timer
//! ([`POLL_MS`], through the caller's `sleep`), and the leader's work borrows only its own
//! request's I/O. If the leader is dropped before it lands (its client went away), the slot is
//! freed: the next waiter to look leads.

use std::cell::RefCell;
use std::future::Future;

/// How long a landed result answers late requests.
pub const RETAIN_SECS: i64 = 60;
/// Most slots kept; when full, landed results are forgotten (running flights stay).
const MAX_SLOTS: usize = 256;
/// How often a waiting request looks at the slot again (ms).
pub const POLL_MS: u32 = 20;

enum State<T> {
    Running,
    Landed { value: T, at: i64 },
}

struct Slot<T> {
    key: String,
    state: State<T>,
}

/// The flights of one isolate. Borrows never span an `.await`.
pub struct Flights<T> {
    slots: RefCell<Vec<Slot<T>>>,
}

impl<T> Default for Flights<T> {
    fn default() -> Self {
        Flights {
            slots: RefCell::new(Vec::new()),
        }
    }
}

/// What joining a flight gives.
pub enum Joined<'a, T: Clone> {
    /// Nobody is doing the work: this request does, and lands the result.
    Lead(Lead<'a, T>),
    /// Another request did it (or has just done it): its result.
    Landed(T),
}

/// The duty to do the work of a flight; see [`Lead::land`].
pub struct Lead<'a, T: Clone> {
    flights: &'a Flights<T>,
    key: String,
    landed: bool,
}

impl<T: Clone> Flights<T> {
    /// Joins the flight `key` at `now` (unix seconds); `sleep(ms)` waits on the caller's own
    /// timer while another request leads.
    pub async fn join<S: Future<Output = ()>>(&self, key: &str, now: i64, sleep: impl Fn(u32) -> S) -> Joined<'_, T> {
        loop {
            match self.look(key, now) {
                Some(Some(value)) => return Joined::Landed(value),
                Some(None) => sleep(POLL_MS).await,
                None => {
                    return Joined::Lead(Lead {
                        flights: self,
                        key: key.to_owned(),
                        landed: false,
                    })
                }
            }
        }
    }

    /// The slot `key`: landed (its value), running (`Some(None)`), or absent (`None`: it is
    /// taken now, for the caller to lead).
    fn look(&self, key: &str, now: i64) -> Option<Option<T>> {
        let mut slots = self.slots.borrow_mut();
        slots.retain(|s| match &s.state {
            State::Landed { at, .. } => now.saturating_sub(*at) <= RETAIN_SECS,
            State::Running => true,
        });
        match slots.iter().find(|s| s.key == key) {
            Some(Slot {
                state: State::Landed { value, .. },
                ..
            }) => Some(Some(value.clone())),
            Some(_) => Some(None),
            None => {
                if slots.len() >= MAX_SLOTS {
                    slots.retain(|s| matches!(s.state, State::Running));
                }
                slots.push(Slot {
                    key: key.to_owned(),
                    state: State::Running,
                });
                None
            }
        }
    }

    /// Lands the slot `key` with a value, or removes it (`None`: the leader gave up).
    fn release(&self, key: &str, landed: Option<(T, i64)>) {
        let mut slots = self.slots.borrow_mut();
        match landed {
            Some((value, at)) => {
                if let Some(slot) = slots.iter_mut().find(|s| s.key == key) {
                    slot.state = State::Landed { value, at };
                }
            }
            None => slots.retain(|s| s.key != key),
        }
    }

    /// How many slots exist (tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.borrow().len()
    }
}

impl<T: Clone> Lead<'_, T> {
    /// Hands the result to every waiting request, and to late ones for [`RETAIN_SECS`].
    pub fn land(mut self, value: T, now: i64) {
        self.landed = true;
        self.flights.release(&self.key, Some((value, now)));
    }
}

impl<T: Clone> Drop for Lead<'_, T> {
    fn drop(&mut self) {
        if !self.landed {
            self.flights.release(&self.key, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::future::join_all;
    use std::cell::Cell;
    use std::future::poll_fn;
    use std::task::Poll;

    /// A future that is pending once (lets the other joined futures run).
    async fn yield_once() {
        let mut yielded = false;
        poll_fn(|cx| {
            if yielded {
                Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await
    }

    #[test]
    fn concurrent_joiners_share_one_result_and_late_ones_get_it_too() {
        let flights = Flights::<u32>::default();
        let work = Cell::new(0);
        let run = || async {
            match flights.join("s1", 100, |_| yield_once()).await {
                Joined::Lead(lead) => {
                    work.set(work.get() + 1);
                    yield_once().await;
                    yield_once().await;
                    lead.land(7, 100);
                    7
                }
                Joined::Landed(v) => v,
            }
        };
        let results = block_on(join_all((0..30).map(|_| run())));
        assert_eq!(results, vec![7; 30]);
        assert_eq!(work.get(), 1);
        // A late request within RETAIN_SECS gets the result; after that, a new flight.
        assert!(matches!(
            block_on(flights.join("s1", 100 + RETAIN_SECS, |_| yield_once())),
            Joined::Landed(7)
        ));
        assert!(matches!(
            block_on(flights.join("s1", 101 + RETAIN_SECS, |_| yield_once())),
            Joined::Lead(_)
        ));
        assert_eq!(flights.len(), 0, "an abandoned lead frees its slot");
    }

    #[test]
    fn an_abandoned_lead_passes_the_work_on() {
        let flights = Flights::<u32>::default();
        let work = Cell::new(0);
        let run = |abandon: bool| {
            let (flights, work) = (&flights, &work);
            async move {
                match flights.join("s1", 0, |_| yield_once()).await {
                    Joined::Lead(lead) => {
                        work.set(work.get() + 1);
                        yield_once().await;
                        if abandon && work.get() == 1 {
                            drop(lead);
                            return 0;
                        }
                        lead.land(9, 0);
                        9
                    }
                    Joined::Landed(v) => v,
                }
            }
        };
        let results = block_on(join_all([run(true), run(true), run(false)]));
        assert_eq!(results, vec![0, 9, 9]);
        assert_eq!(work.get(), 2);
    }
}
