from twin.cli.main import app

app()
