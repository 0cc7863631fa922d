module github.com/ebb-go/ebb

go 1.26.0
