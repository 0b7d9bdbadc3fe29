"""The WSGI entry point; ``python app.py`` serves the embedded default."""

from oauth_server import create_app

app = create_app()

if __name__ == "__main__":
    from oauth_server.serve import main

    main(app)
