//! The helper service of tracebench's tests (see `testkit::helper`).

fn main() {
    testkit::helper::serve();
}
