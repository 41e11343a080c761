//! Single flight per isolate: the requests of one session that find the same work due (a page
//! that fires 30 requests when its session needs a refresh) do it once. The first to arrive
//! leads: it does the work and lands the result; the others wait for that result instead of
//! doing the work again. The result stays for [`RETAIN_SECS`], so that a request still carrying
//! the old cookie a moment later gets the same answer (the new cookie) without any I/O.
//!
//! No `futures::Shared`: the leader's work borrows its own request's I/O, which other requests
//! must not poll. If the leader is dropped before it lands (its client went away), the slot is
//! freed and the waiters wake: the next of them leads.

use std::cell::RefCell;
use std::future::poll_fn;
use std::task::{Poll, Waker};

/// How long a landed result answers late requests.
pub const RETAIN_SECS: i64 = 60;
/// Most slots kept; when full, landed results are forgotten (running flights stay).
const MAX_SLOTS: usize = 256;

enum State<T> {
    Running(Vec<Waker>),
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
    /// Joins the flight `key` at `now` (unix seconds).
    pub async fn join(&self, key: &str, now: i64) -> Joined<'_, T> {
        let lead = poll_fn(|cx| {
            let mut slots = self.slots.borrow_mut();
            slots.retain(|s| match &s.state {
                State::Landed { at, .. } => now.saturating_sub(*at) <= RETAIN_SECS,
                State::Running(_) => true,
            });
            match slots.iter_mut().find(|s| s.key == key) {
                Some(Slot {
                    state: State::Landed { value, .. },
                    ..
                }) => Poll::Ready(Some(value.clone())),
                Some(Slot {
                    state: State::Running(waiters),
                    ..
                }) => {
                    if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                        waiters.push(cx.waker().clone());
                    }
                    Poll::Pending
                }
                None => {
                    if slots.len() >= MAX_SLOTS {
                        slots.retain(|s| matches!(s.state, State::Running(_)));
                    }
                    slots.push(Slot {
                        key: key.to_owned(),
                        state: State::Running(Vec::new()),
                    });
                    Poll::Ready(None)
                }
            }
        })
        .await;
        match lead {
            Some(value) => Joined::Landed(value),
            None => Joined::Lead(Lead {
                flights: self,
                key: key.to_owned(),
                landed: false,
            }),
        }
    }

    /// Removes the slot `key` (landed or not) and wakes its waiters.
    fn release(&self, key: &str, landed: Option<(T, i64)>) {
        let waiters = {
            let mut slots = self.slots.borrow_mut();
            let Some(slot) = slots.iter_mut().find(|s| s.key == key) else {
                return;
            };
            let old = match landed {
                Some((value, at)) => std::mem::replace(&mut slot.state, State::Landed { value, at }),
                None => std::mem::replace(&mut slot.state, State::Running(Vec::new())),
            };
            if matches!(slot.state, State::Running(_)) {
                slots.retain(|s| s.key != key);
            }
            match old {
                State::Running(waiters) => waiters,
                State::Landed { .. } => Vec::new(),
            }
        };
        // Woken after the borrow ends: a waker may poll at once.
        waiters.into_iter().for_each(Waker::wake);
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
            match flights.join("s1", 100).await {
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
            block_on(flights.join("s1", 100 + RETAIN_SECS)),
            Joined::Landed(7)
        ));
        assert!(matches!(
            block_on(flights.join("s1", 101 + RETAIN_SECS)),
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
                match flights.join("s1", 0).await {
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
