pytest_plugins = ["tests.smtp_server"]
