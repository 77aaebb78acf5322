"""What tests share: fakes of network services, live servers and workers, the browser."""
