pytest_plugins = ["tests.fake_api", "tests.smtp_server"]
