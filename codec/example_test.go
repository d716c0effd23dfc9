package codec_test

import (
	"errors"
	"fmt"

	"github.com/meshmq/meshmq/codec"
)

type Order struct {
	ID    string `json:"id"`
	Total int    `json:"total"`
}

func ExampleMsgPack() {
	c := codec.MsgPack()
	data, err := c.Marshal(Order{ID: "o-1", Total: 1250})
	if err != nil {
		panic(err)
	}

	// The json tags name the fields under both codecs.
	var fields map[string]any
	if err := c.Unmarshal(data, &fields); err != nil {
		panic(err)
	}
	fmt.Println(fields["id"], fields["total"])

	var o Order
	if err := c.Unmarshal(data, &o); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", o)
	// Output:
	// o-1 1250
	// {ID:o-1 Total:1250}
}

func ExampleLookup() {
	for _, ct := range []string{"", "application/JSON; charset=utf-8", "text/csv"} {
		c, err := codec.Lookup(ct)
		var unknown *codec.UnknownContentTypeError
		switch {
		case errors.As(err, &unknown):
			fmt.Printf("%q: no codec for %q\n", ct, unknown.ContentType)
		case err != nil:
			panic(err)
		default:
			fmt.Printf("%q: %s\n", ct, c.ContentType())
		}
	}
	// Output:
	// "": application/msgpack
	// "application/JSON; charset=utf-8": application/json
	// "text/csv": no codec for "text/csv"
}

func ExampleError() {
	err := codec.JSON().Unmarshal([]byte(`{"id": 7}`), new(Order))

	var ce *codec.Error
	if errors.As(err, &ce) {
		fmt.Println(ce.Op, ce.ContentType)
	}
	fmt.Println(err)
	// Output:
	// unmarshal application/json
	// codec: unmarshal application/json: json: cannot unmarshal number into Go struct field Order.id of type string
}
