from incremental_retrieval.cli import main

if __name__ == "__main__":
    main()
