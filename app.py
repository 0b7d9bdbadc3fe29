"""The WSGI entry point; ``python app.py`` serves the embedded default."""

from oauth_server import create_app

if __name__ == "__main__":
    from oauth_server.serve import main

    main(create_app)  # builds the app itself, once the metrics folder is ready
else:
    app = create_app()
