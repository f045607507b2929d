from learnerledger.cli import main

main()
