//! A microsecond timer inside the driver's event loop. tokio's own timer rounds every sleep up
//! to the next millisecond, which alone would make the driver up to 1 ms late; a second thread
//! sleeping precisely would cost a cross-thread wake-up per tick. On Linux a `timerfd` armed for
//! the next due time becomes readable in the same `epoll_wait` that reports responses, so one
//! wake-up serves the timer and the sockets together.

use std::time::Instant;

/// One re-armable timer; `sleep_until` calls must not overlap.
pub struct Timer {
    #[cfg(target_os = "linux")]
    fd: tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
}

#[cfg(target_os = "linux")]
impl Timer {
    /// Must be called inside a tokio runtime with I/O enabled.
    pub fn new() -> std::io::Result<Timer> {
        use std::os::fd::FromRawFd;
        // SAFETY: timerfd_create takes plain flags and returns a new descriptor or -1.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor we just created and own alone; the `OwnedFd` keeps it
        // open, unreplaced, for as long as the `AsyncFd` holds it.
        let fd = unsafe {
            let fd = std::os::fd::OwnedFd::from_raw_fd(raw);
            tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)?
        };
        Ok(Timer { fd })
    }

    /// Returns at `deadline` (at once when it has passed), to within the kernel's wake-up
    /// latency: no rounding to milliseconds.
    pub async fn sleep_until(&self, deadline: Instant) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let now = Instant::now();
        if deadline <= now {
            return Ok(());
        }
        let wait = deadline - now;
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: wait.as_secs() as libc::time_t,
                tv_nsec: wait.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: the descriptor is open for the life of `self`; `spec` is a valid itimerspec
        // and the old value is not asked for. Arming also clears any expiry not yet read.
        if unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) } < 0
        {
            return Err(std::io::Error::last_os_error());
        }
        loop {
            let mut ready = self.fd.readable().await?;
            let mut expirations = 0u64;
            // SAFETY: reads 8 bytes into a u64 owned by this frame.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&mut expirations as *mut u64).cast(),
                    std::mem::size_of::<u64>(),
                )
            };
            // Read or not, the descriptor has nothing more to give until it expires again:
            // forgetting the readiness spares the next sleep a read that would find nothing.
            ready.clear_ready();
            if n >= 0 {
                return Ok(());
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::WouldBlock {
                return Err(err);
            }
            // Readiness left over from an earlier arming: wait for this one.
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl Timer {
    pub fn new() -> std::io::Result<Timer> {
        Ok(Timer {})
    }

    /// Elsewhere tokio's millisecond timer stands in: correct, but up to 1 ms late.
    pub async fn sleep_until(&self, deadline: Instant) -> std::io::Result<()> {
        tokio::time::sleep_until(deadline.into()).await;
        Ok(())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "current_thread")]
    async fn wakes_after_the_deadline_and_can_be_rearmed() {
        let timer = Timer::new().unwrap();
        for wait_us in [300u64, 1_500, 50] {
            let deadline = Instant::now() + Duration::from_micros(wait_us);
            timer.sleep_until(deadline).await.unwrap();
            assert!(Instant::now() >= deadline, "woke before {wait_us} µs");
        }
        // A deadline already past returns at once.
        timer.sleep_until(Instant::now()).await.unwrap();
        // A sleep abandoned after arming expires unread; the next sleep must not end early.
        tokio::select! {
            biased;
            _ = timer.sleep_until(Instant::now() + Duration::from_micros(100)) => {
                panic!("a 100 µs timer cannot have fired before its first poll")
            }
            () = std::future::ready(()) => {}
        }
        std::thread::sleep(Duration::from_millis(1));
        let deadline = Instant::now() + Duration::from_millis(2);
        timer.sleep_until(deadline).await.unwrap();
        assert!(Instant::now() >= deadline);
    }
}
