from eka.cli import main

main()
