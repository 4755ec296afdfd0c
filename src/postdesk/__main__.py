from postdesk.cli.main import main

main()
